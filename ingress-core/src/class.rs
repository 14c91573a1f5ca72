//! IngressClass selection: which Ingresses this controller serves (SEMANTICS §4).

use crate::config::ClassSelection;
use crate::model::{Ingress, IngressClass};

impl ClassSelection {
    /// Whether an Ingress is ours, given every IngressClass in the cluster:
    /// - its class (`spec.ingressClassName`, else the legacy `kubernetes.io/ingress.class`
    ///   annotation) is one of [`ClassSelection::class_names`] or names an IngressClass whose
    ///   `spec.controller` is ours;
    /// - it names no class and either [`ClassSelection::watch_without_class`] is set or one of
    ///   our IngressClasses carries `ingressclass.kubernetes.io/is-default-class: "true"`.
    ///
    /// ```
    /// use ingress_core::{ClassSelection, Ingress, IngressClass, ObjectMeta};
    ///
    /// let ours = ClassSelection::default();
    /// let mut class = IngressClass {
    ///     meta: ObjectMeta::new("", "public", None),
    ///     controller: ClassSelection::DEFAULT_CONTROLLER.into(),
    /// };
    /// let classes = [class.clone()];
    /// assert!(ours.is_ours(&Ingress::new("a", "b", None).with_class("public"), &classes));
    /// assert!(!ours.is_ours(&Ingress::new("a", "b", None).with_class("nginx"), &classes));
    /// assert!(!ours.is_ours(&Ingress::new("a", "b", None), &classes));
    /// class.meta.annotations.insert(IngressClass::DEFAULT_CLASS_ANNOTATION.into(), "true".into());
    /// assert!(ours.is_ours(&Ingress::new("a", "b", None), &[class]));
    /// ```
    pub fn is_ours<'a>(
        &self,
        ingress: &Ingress,
        classes: impl IntoIterator<Item = &'a IngressClass>,
    ) -> bool {
        let named = ingress.spec.ingress_class_name.as_deref().or_else(|| {
            ingress
                .meta
                .annotations
                .get(Ingress::LEGACY_CLASS_ANNOTATION)
                .map(String::as_str)
        });
        match named {
            Some(name) => {
                self.class_names.iter().any(|c| c == name)
                    || classes
                        .into_iter()
                        .any(|c| c.meta.name == name && c.controller == self.controller_name)
            }
            None => {
                self.watch_without_class
                    || classes
                        .into_iter()
                        .any(|c| c.controller == self.controller_name && c.is_default())
            }
        }
    }
}
