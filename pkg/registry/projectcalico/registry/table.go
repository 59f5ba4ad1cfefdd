package registry

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Column is one kubectl get column: its definition and how to compute a cell.
type Column[T Object] struct {
	// Name is the column header, e.g. "CIDR".
	Name string
	// Type is the OpenAPI type of the cells: "string", "integer", "boolean".
	Type string
	// Description explains the column (kubectl get -o wide shows priority>0 columns).
	Description string
	// Priority 0 columns always show; higher ones only with -o wide.
	Priority int32
	// Cell computes the cell of an object.
	Cell func(T) any
}

// tableConvertor renders objects as NAME, the kind's columns, AGE.
type tableConvertor[T Object] struct {
	kind *Kind[T]
}

var _ rest.TableConvertor = tableConvertor[Object]{}

func (c tableConvertor[T]) definitions() []metav1.TableColumnDefinition {
	defs := []metav1.TableColumnDefinition{{
		Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"],
	}}
	for _, col := range c.kind.Columns {
		defs = append(defs, metav1.TableColumnDefinition{
			Name: col.Name, Type: col.Type, Description: col.Description, Priority: col.Priority,
		})
	}
	return append(defs, metav1.TableColumnDefinition{
		Name: "Age", Type: "string",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"],
	})
}

// ConvertToTable renders one object or a list of objects.
func (c tableConvertor[T]) ConvertToTable(_ context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = c.definitions()
	}
	rowFor := func(obj runtime.Object) error {
		o, ok := obj.(T)
		if !ok {
			return fmt.Errorf("cannot render a %T as a %s table row", obj, c.kind.Resource)
		}
		cells := make([]any, 0, len(c.kind.Columns)+2)
		cells = append(cells, o.GetName())
		for _, col := range c.kind.Columns {
			cells = append(cells, col.Cell(o))
		}
		cells = append(cells, age(o.GetCreationTimestamp()))
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: obj}})
		return nil
	}
	if meta.IsListType(object) {
		if err := meta.EachListItem(object, rowFor); err != nil {
			return nil, err
		}
	} else if err := rowFor(object); err != nil {
		return nil, err
	}
	if l, err := meta.ListAccessor(object); err == nil {
		table.ResourceVersion = l.GetResourceVersion()
		table.Continue = l.GetContinue()
		table.RemainingItemCount = l.GetRemainingItemCount()
	} else if o, err := meta.CommonAccessor(object); err == nil {
		table.ResourceVersion = o.GetResourceVersion()
	}
	return table, nil
}

// age renders a creation time as kubectl does ("5m", "<unknown>").
func age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// FormatOrder renders an optional policy or tier order, "<none>" when unset.
func FormatOrder(order *float64) string {
	if order == nil {
		return "<none>"
	}
	return strconv.FormatFloat(*order, 'g', -1, 64)
}
