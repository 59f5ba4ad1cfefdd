package registry

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	v3 "github.com/meshapi/meshapi/pkg/apis/projectcalico/v3"
)

// tablePoolKind is an IPPool kind with two columns, CIDR and a priority-1
// Block Size.
func tablePoolKind() *Kind[*v3.IPPool] {
	return &Kind[*v3.IPPool]{
		Resource: v3.Resource("ippools"),
		Singular: v3.Resource("ippool"),
		New:      func() *v3.IPPool { return &v3.IPPool{} },
		NewList:  func() runtime.Object { return &v3.IPPoolList{} },
		Columns: []Column[*v3.IPPool]{
			{Name: "CIDR", Type: "string", Description: "The pool's CIDR.", Cell: func(p *v3.IPPool) any { return p.Spec.CIDR }},
			{Name: "Block Size", Type: "integer", Priority: 1, Description: "Block prefix length.", Cell: func(p *v3.IPPool) any { return int64(p.Spec.BlockSize) }},
		},
	}
}

func TestTableConvertorColumnDefinitions(t *testing.T) {
	c := tableConvertor[*v3.IPPool]{kind: tablePoolKind()}
	table, err := c.ConvertToTable(context.Background(), &v3.IPPool{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "CIDR", Type: "string", Description: "The pool's CIDR."},
		{Name: "Block Size", Type: "integer", Description: "Block prefix length.", Priority: 1},
		{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
	}
	if !reflect.DeepEqual(table.ColumnDefinitions, want) {
		t.Errorf("column definitions\n%#v\nwant\n%#v", table.ColumnDefinitions, want)
	}
	for _, d := range []metav1.TableColumnDefinition{table.ColumnDefinitions[0], table.ColumnDefinitions[3]} {
		if d.Description == "" {
			t.Errorf("column %s has no description", d.Name)
		}
	}
}

func TestTableConvertor(t *testing.T) {
	fiftyDaysAgo := metav1.NewTime(time.Now().Add(-50 * 24 * time.Hour))
	pool := func(name, cidr string, blockSize int) v3.IPPool {
		return v3.IPPool{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: fiftyDaysAgo, ResourceVersion: "11"},
			Spec:       v3.IPPoolSpec{CIDR: cidr, BlockSize: blockSize},
		}
	}
	single := pool("a", "10.0.0.0/16", 26)
	unborn := v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "new", ResourceVersion: "3"}, Spec: v3.IPPoolSpec{CIDR: "fd00::/64"}}
	list := &v3.IPPoolList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next-page", RemainingItemCount: ptr.To[int64](7)},
		Items:    []v3.IPPool{pool("a", "10.0.0.0/16", 26), pool("b", "10.1.0.0/16", 24)},
	}
	cases := []struct {
		name          string
		obj           runtime.Object
		opts          runtime.Object
		wantHeaders   bool
		wantCells     [][]any
		wantNames     []string
		wantRV        string
		wantContinue  string
		wantRemaining *int64
		wantErr       string
	}{
		{
			name: "single object", obj: &single, wantHeaders: true,
			wantCells: [][]any{{"a", "10.0.0.0/16", int64(26), "50d"}}, wantNames: []string{"a"}, wantRV: "11",
		},
		{
			name: "object without a creation time", obj: &unborn, wantHeaders: true,
			wantCells: [][]any{{"new", "fd00::/64", int64(0), "<unknown>"}}, wantNames: []string{"new"}, wantRV: "3",
		},
		{
			name: "list", obj: list, opts: &metav1.TableOptions{}, wantHeaders: true,
			wantCells: [][]any{{"a", "10.0.0.0/16", int64(26), "50d"}, {"b", "10.1.0.0/16", int64(24), "50d"}},
			wantNames: []string{"a", "b"}, wantRV: "42", wantContinue: "next-page", wantRemaining: ptr.To[int64](7),
		},
		{
			name: "empty list", obj: &v3.IPPoolList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}}, wantHeaders: true, wantRV: "9",
		},
		{
			name: "no headers", obj: list, opts: &metav1.TableOptions{NoHeaders: true},
			wantCells: [][]any{{"a", "10.0.0.0/16", int64(26), "50d"}, {"b", "10.1.0.0/16", int64(24), "50d"}},
			wantNames: []string{"a", "b"}, wantRV: "42", wantContinue: "next-page", wantRemaining: ptr.To[int64](7),
		},
		{
			name: "options of another type keep the headers", obj: &single, opts: &metav1.GetOptions{}, wantHeaders: true,
			wantCells: [][]any{{"a", "10.0.0.0/16", int64(26), "50d"}}, wantNames: []string{"a"}, wantRV: "11",
		},
		{
			name: "object of another kind", obj: &v3.Tier{ObjectMeta: metav1.ObjectMeta{Name: "t"}},
			wantErr: "cannot render a *v3.Tier as a ippools.projectcalico.org table row",
		},
		{
			name: "list of another kind", obj: &v3.TierList{Items: []v3.Tier{{ObjectMeta: metav1.ObjectMeta{Name: "t"}}}},
			wantErr: "cannot render a *v3.Tier",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tableConvertor[*v3.IPPool]{kind: tablePoolKind()}
			table, err := c.ConvertToTable(context.Background(), tc.obj, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ConvertToTable = %v, %v; want an error containing %q", table, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConvertToTable: %v", err)
			}
			if gotHeaders := len(table.ColumnDefinitions) > 0; gotHeaders != tc.wantHeaders {
				t.Errorf("%d column definitions, want headers %v", len(table.ColumnDefinitions), tc.wantHeaders)
			}
			if tc.wantHeaders && len(table.ColumnDefinitions) != 4 {
				t.Errorf("%d column definitions, want 4", len(table.ColumnDefinitions))
			}
			if len(table.Rows) != len(tc.wantCells) {
				t.Fatalf("%d rows, want %d", len(table.Rows), len(tc.wantCells))
			}
			for i, row := range table.Rows {
				if !reflect.DeepEqual(row.Cells, tc.wantCells[i]) {
					t.Errorf("row %d cells %#v, want %#v", i, row.Cells, tc.wantCells[i])
				}
				obj, ok := row.Object.Object.(*v3.IPPool)
				if !ok || obj.Name != tc.wantNames[i] {
					t.Errorf("row %d object %#v, want the IPPool %q", i, row.Object.Object, tc.wantNames[i])
				}
			}
			if table.ResourceVersion != tc.wantRV || table.Continue != tc.wantContinue {
				t.Errorf("resourceVersion %q, continue %q; want %q, %q", table.ResourceVersion, table.Continue, tc.wantRV, tc.wantContinue)
			}
			if !reflect.DeepEqual(table.RemainingItemCount, tc.wantRemaining) {
				t.Errorf("remainingItemCount %v, want %v", table.RemainingItemCount, tc.wantRemaining)
			}
		})
	}
}

func TestTableConvertorRowObjectIsTheObject(t *testing.T) {
	c := tableConvertor[*v3.IPPool]{kind: tablePoolKind()}
	pool := &v3.IPPool{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	table, err := c.ConvertToTable(context.Background(), pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := table.Rows[0].Object.Object; got != runtime.Object(pool) {
		t.Errorf("row object %p, want the converted object %p", got, pool)
	}
	list := &v3.IPPoolList{Items: []v3.IPPool{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}}}
	table, err = c.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if got := table.Rows[i].Object.Object; got != runtime.Object(&list.Items[i]) {
			t.Errorf("row %d object %p, want the list item %p", i, got, &list.Items[i])
		}
	}
}
