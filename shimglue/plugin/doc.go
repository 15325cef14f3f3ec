// Package plugin registers the shim's "task" plugin: runc's task service
// wrapped by shimglue. Import it for effect instead of runc's task/plugin
// (both register TTRPCPlugin "task"; importing both panics). StartEarly,
// called from the shim's main, starts preparing the shim's container before
// the shim runtime is up.
//
// It imports shimglue and containerd's shim runtime only.
package plugin
