// +k8s:deepcopy-gen=package
// +groupName=ark.heptio.com

// Package ark is the internal version of the ark.heptio.com API. Storage,
// validation and the registry work on these types; the versioned packages
// convert to and from them.
package ark
