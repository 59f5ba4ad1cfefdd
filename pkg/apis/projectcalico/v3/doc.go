// +k8s:openapi-gen=true
// +k8s:deepcopy-gen=package
// +k8s:defaulter-gen=TypeMeta
// +groupName=projectcalico.org
// +k8s:openapi-model-package=com.github.meshapi.meshapi.pkg.apis.projectcalico.v3

// Package v3 holds the projectcalico.org/v3 API served by meshapi: the same
// kinds, field names and YAML shape as the original product, so that its
// documented YAML applies unchanged, plus a status subresource on
// RemoteClusterConfiguration that the original lacks.
package v3
