//! Config sources for the `ingress-core` route table: a directory of manifests (the same YAML
//! users `kubectl apply`) and kube-rs watches of a live cluster, both converted to the core
//! model by one set of `TryFrom` conversions and fed to the table's single writer.
