package v3

// EffectiveOverlayRoutingMode is the overlay routing mode the mesh applies
// for the remote cluster: Enabled only when the spec says so. The API
// server defaults the field when it stores the object, so an unset one is
// only ever seen on objects built in memory; it counts as Disabled, which
// leaves routing of the remote pod IPs to the underlay.
func (r *RemoteClusterConfiguration) EffectiveOverlayRoutingMode() OverlayRoutingMode {
	if r.Spec.SyncOptions.OverlayRoutingMode == OverlayRoutingModeEnabled {
		return OverlayRoutingModeEnabled
	}
	return OverlayRoutingModeDisabled
}
