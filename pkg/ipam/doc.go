// Package ipam allocates pod and tunnel addresses from IPPools the way
// Calico's IPAM does, on the projectcalico.org/v3 API of meshapi.
//
// A node claims blocks of its pools' blockSize (IPAMBlocks with affinity
// "host:<node>", named like Calico's: the CIDR with '.', ':' and '/'
// replaced by '-'); a claim is an atomic Create, and AlreadyExists means
// another node won the block. Addresses come from the node's own blocks
// first, then from a newly claimed block, and only when every admitted
// pool is full from another node's non-strict block (borrowing), unless
// strict affinity is configured. Disabled pools and pools mirrored from
// remote clusters are never allocated from.
//
// Every change of a block is a compare-and-swap: an Update carrying the
// resourceVersion that was read, retried on Conflict after re-reading
// and deciding again, with a bounded number of attempts and a jittered
// pause. There is no lock: two Assigns anywhere in the cluster never get
// the same address. Each allocation records its handle and attributes in
// the block itself, in the same write, so a crash leaves at most an empty
// block affine to a node, which a garbage collector can see and free.
//
// A node-local service (pkg/ipamd) allocates through a NodeAllocator
// instead: it carries out the node's concurrent changes as batches, the
// changes of a batch that fall in one block being one compare-and-swap
// write, and keeps its view of the blocks between batches.
package ipam
