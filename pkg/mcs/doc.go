// Package mcs is the pure core of meshapi's Multi-Cluster Services
// (KEP-1645, sigs.k8s.io/mcs-api v1alpha1): from the ServiceExports of
// every cluster of the mesh and the Services they export, it computes
// the ServiceImport of each exported name, the conditions of each
// ServiceExport (Valid, Ready, Conflict, with the KEP's conflict
// resolution: the oldest export wins, ties broken by cluster name), the
// derived Service that gives an import its ClusterSetIP, and the
// EndpointSlices, one per source cluster, that back it. It does no I/O;
// pkg/mcs/controller reads the clusters and writes the results.
package mcs
