//! The `identity` method: the deployed float baseline, unchanged. Every suite's reference row.

use std::collections::BTreeMap;

use compbench_core::{Family, ParamSpec, Params};

use crate::method::{Compressed, Method, MethodCtx, MethodError};

/// No compression: the baseline's weights in [`crate::deployed::DenseGemm`] kernels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Method for Identity {
    fn id(&self) -> &'static str {
        "identity"
    }

    fn describe(&self) -> &'static str {
        "no compression: the float baseline as deployed (dense f32 kernels)"
    }

    fn family(&self) -> Option<Family> {
        Some(Family::Baseline)
    }

    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }

    fn apply(&self, ctx: &MethodCtx, _params: &Params) -> Result<Compressed, MethodError> {
        let mut deployed = ctx.baseline.to_deployed();
        deployed.name = format!("{}/identity", ctx.model.label());
        Ok(Compressed {
            deployed,
            metrics: BTreeMap::new(),
            notes: Vec::new(),
        })
    }
}
