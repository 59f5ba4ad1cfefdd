// Package registry is the storage machinery shared by every
// projectcalico.org/v3 resource: a generic REST strategy, a status
// subresource, and a table convertor driven by per-kind column lists. Each
// kind's package under pkg/registry/projectcalico describes its resource
// with a Kind and calls NewStore.
package registry
