// +k8s:openapi-gen=true
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/arkproject/ark/pkg/apis/ark
// +k8s:defaulter-gen=TypeMeta
// +groupName=ark.heptio.com
// +k8s:openapi-model-package=com.heptio.ark.v1

// Package v1 is the v1 version of the ark.heptio.com API: the wire format
// clients see and the format of ark-backup.json in the bucket.
package v1
