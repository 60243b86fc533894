//! [`ExternalMethod`]: a manifest made into a [`Method`] the runner drives like a native one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use compbench_core::{BlockSparsity, NumFormat, ParamError, ParamSpec, Params};
use compbench_nn::deployed::DenseGemm;
use compbench_nn::{Compressed, GemmKernel, Method, MethodCtx, MethodError};
use safetensors::tensor::{Dtype, TensorView};

use crate::kernel::{codebook_gemm, declared_gemm};
use crate::manifest::{DataSplit, Manifest, PROTOCOL_VERSION};
use crate::process;
use crate::protocol::{DataFiles, LayerInfo, LayerOut, ModelInfo, Request, Response, SplitFiles};

/// Calibration examples under `--quick` at most.
pub const QUICK_CALIBRATION: usize = 256;

/// A method run as an external process, described by its [`Manifest`].
#[derive(Debug)]
pub struct ExternalMethod {
    pub manifest: Manifest,
}

/// A manifest that could not be loaded. It is listed under its directory's name and refuses
/// every suite that uses it with the manifest's error, so the problem shows where it matters.
#[derive(Debug)]
pub struct BrokenManifest {
    pub id: &'static str,
    pub error: &'static str,
}

impl Method for BrokenManifest {
    fn id(&self) -> &'static str {
        self.id
    }
    fn describe(&self) -> &'static str {
        "external method whose manifest does not load (validate a suite that uses it to see why)"
    }
    /// Unknown: the manifest did not load. The registry reports it (`compbench_registry::taxonomy`).
    fn family(&self) -> Option<compbench_core::Family> {
        None
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn check(&self, _: &Params, _: &compbench_nn::ModelConfig) -> Result<(), ParamError> {
        Err(ParamError::Constraint {
            param: "manifest".into(),
            message: self.error.to_string(),
        })
    }
    fn apply(&self, _: &MethodCtx, _: &Params) -> Result<Compressed, MethodError> {
        Err(MethodError::Failed(self.error.to_string()))
    }
}

impl Method for ExternalMethod {
    fn id(&self) -> &'static str {
        self.manifest.id
    }

    fn describe(&self) -> &'static str {
        self.manifest.description
    }

    fn family(&self) -> Option<compbench_core::Family> {
        Some(self.manifest.family)
    }

    fn params(&self) -> &'static [ParamSpec] {
        self.manifest.params
    }

    fn apply(&self, ctx: &MethodCtx, params: &Params) -> Result<Compressed, MethodError> {
        let fail =
            |m: String| MethodError::Failed(format!("external method `{}`: {m}", self.manifest.id));
        let work = tempfile::Builder::new()
            .prefix("compbench-external-")
            .tempdir()
            .map_err(|e| fail(format!("cannot create a work directory: {e}")))?;
        let dir = work.path();
        let mut deployed = ctx.baseline.to_deployed();
        let infos = ctx.baseline.gemm_layers();

        // 1. The model's GEMM weights, K×N, as the deployed kernels hold them.
        let mut layers = Vec::new();
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, kernel) in deployed.gemm_layers() {
            let (w, b) = kernel
                .dense_weights()
                .ok_or_else(|| fail(format!("layer `{name}` has no float weights to send")))?;
            let (k, n) = (kernel.k(), kernel.n());
            let info = infos.iter().find(|i| i.name == name);
            tensors.push((format!("{name}.weight"), vec![k, n], f32_bytes(w)));
            if let Some(b) = b {
                tensors.push((format!("{name}.bias"), vec![n], f32_bytes(b)));
            }
            layers.push(LayerInfo {
                name: name.to_string(),
                k,
                n,
                rows_per_image: info.map_or(1, |i| i.rows_per_image),
                first: info.is_some_and(|i| i.first),
                last: info.is_some_and(|i| i.last),
                has_bias: b.is_some(),
            });
        }
        let model_path = dir.join("model.safetensors");
        write_safetensors(&model_path, &tensors)
            .map_err(|e| fail(format!("writing the model: {e}")))?;

        // 2. The data the manifest asked for.
        let mut data = DataFiles::default();
        for split in &self.manifest.data {
            let (tag, set) = match split {
                DataSplit::Calibration => {
                    let n = if ctx.quick {
                        self.manifest.calibration_examples.min(QUICK_CALIBRATION)
                    } else {
                        self.manifest.calibration_examples
                    };
                    let seed = ctx.seed;
                    (
                        "calibration",
                        compbench_nn::data::calibration_subset(&ctx.data.train, n, seed),
                    )
                }
                DataSplit::Train => {
                    let n = ctx.train.train_subset.unwrap_or(ctx.data.train.len());
                    ("train", ctx.data.train.head(n))
                }
            };
            let images = dir.join(format!("{tag}_images.npy"));
            let labels = dir.join(format!("{tag}_labels.npy"));
            let shape = [set.len(), set.channels, set.height, set.width];
            crate::npy::write(&images, &set.images, &shape)
                .and_then(|_| crate::npy::write(&labels, &set.labels, &[set.len()]))
                .map_err(|e| fail(format!("writing {tag} data: {e}")))?;
            let files = Some(SplitFiles {
                images: images.display().to_string(),
                labels: labels.display().to_string(),
                examples: set.len(),
            });
            match split {
                DataSplit::Calibration => data.calibration = files,
                DataSplit::Train => data.train = files,
            }
        }

        // 3. Run it.
        let output = dir.join("output.safetensors");
        let request = Request {
            protocol: PROTOCOL_VERSION,
            method: self.manifest.id.to_string(),
            params: params.0.clone(),
            seed: ctx.seed,
            quick: ctx.quick,
            model: ModelInfo {
                kind: ctx.model.kind.name().to_string(),
                weights: model_path.display().to_string(),
                input: deployed.input,
                classes: deployed.classes,
            },
            layers,
            data,
            work_dir: dir.display().to_string(),
            output: output.display().to_string(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| fail(e.to_string()))?;
        let timeout = Duration::from_secs(params.int("timeout_s").max(1) as u64);
        (ctx.log)(&format!("running {}", self.manifest.command.join(" ")));
        let done = process::run(&self.manifest.command, &self.manifest.dir, &body, timeout)
            .map_err(|e| fail(e.to_string()))?;
        let with_stderr = |m: String| {
            if done.stderr.trim().is_empty() {
                fail(m)
            } else {
                fail(format!("{m}; stderr:\n{}", done.stderr))
            }
        };

        // 4. Read and check the answer.
        let response: Response = serde_json::from_slice(&done.stdout).map_err(|e| {
            let text = String::from_utf8_lossy(&done.stdout);
            let head: String = text.chars().take(200).collect();
            with_stderr(format!(
                "stdout is not a protocol-{PROTOCOL_VERSION} response: {e} (stdout began: {head:?})"
            ))
        })?;
        let built = build_layers(&request, &response, dir).map_err(with_stderr)?;
        for (name, kernel) in built {
            deployed
                .replace_gemm(&name, move |_| kernel)
                .map_err(fail)?;
        }
        let mut metrics = BTreeMap::new();
        for (k, v) in response.metrics {
            if !v.is_finite() {
                return Err(with_stderr(format!("metrics.{k}: {v} is not finite")));
            }
            metrics.insert(k, v);
        }
        let mut notes = response.notes;
        notes.push(format!(
            "external method `{}` (protocol {PROTOCOL_VERSION}, manifest {})",
            self.manifest.id, self.manifest.fingerprint
        ));
        Ok(Compressed {
            deployed,
            metrics,
            notes,
        })
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_safetensors(path: &Path, tensors: &[(String, Vec<usize>, Vec<u8>)]) -> Result<(), String> {
    let views = tensors
        .iter()
        .map(|(n, s, b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let data = safetensors::serialize(views, None).map_err(|e| e.to_string())?;
    std::fs::write(path, data).map_err(|e| e.to_string())
}

/// Check a response against its request and build one kernel per layer. Every error names
/// the field (`layers[i].…`, `weights: tensor …`).
pub fn build_layers(
    request: &Request,
    response: &Response,
    work_dir: &Path,
) -> Result<Vec<(String, Box<dyn GemmKernel>)>, String> {
    if response.protocol != PROTOCOL_VERSION {
        return Err(format!(
            "protocol: the response says version {}, the request was {PROTOCOL_VERSION}",
            response.protocol
        ));
    }
    let names: BTreeSet<&str> = request.layers.iter().map(|l| l.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, l) in response.layers.iter().enumerate() {
        if !names.contains(l.name.as_str()) {
            return Err(format!(
                "layers[{i}].name: `{}` is not a GEMM layer of the model (its layers: {})",
                l.name,
                names.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        if !seen.insert(l.name.as_str()) {
            return Err(format!("layers[{i}].name: `{}` is listed twice", l.name));
        }
    }
    if let Some(missing) = request
        .layers
        .iter()
        .find(|l| !seen.contains(l.name.as_str()))
    {
        return Err(format!(
            "layers: no entry for layer `{}` (every GEMM layer must be listed)",
            missing.name
        ));
    }
    let path = work_dir.join(&response.weights);
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("weights: cannot read {}: {e}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("weights: {} is not safetensors: {e}", path.display()))?;
    let tensor = |name: &str, shape: &[usize]| -> Result<Option<Vec<f32>>, String> {
        let Ok(view) = st.tensor(name) else {
            return Ok(None);
        };
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "weights: tensor `{name}` is {:?}, expected F32",
                view.dtype()
            ));
        }
        if view.shape() != shape {
            return Err(format!(
                "weights: tensor `{name}` has shape {:?}, expected {shape:?}",
                view.shape()
            ));
        }
        let v: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let bad = v.iter().filter(|x| !x.is_finite()).count();
        if bad > 0 {
            return Err(format!(
                "weights: tensor `{name}` has {bad} NaN or infinite values"
            ));
        }
        Ok(Some(v))
    };
    let sent = std::fs::read(&request.model.weights)
        .map_err(|e| format!("cannot re-read the model sent: {e}"))?;
    let sent = safetensors::SafeTensors::deserialize(&sent).map_err(|e| e.to_string())?;
    let original_bias = |layer: &str, n: usize| -> Result<Vec<f32>, String> {
        let view = sent
            .tensor(&format!("{layer}.bias"))
            .map_err(|e| format!("the model sent has no bias for `{layer}`: {e}"))?;
        let v: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        debug_assert_eq!(v.len(), n);
        Ok(v)
    };
    let mut out = Vec::new();
    for info in &request.layers {
        let (i, l) = response
            .layers
            .iter()
            .enumerate()
            .find(|(_, l)| l.name == info.name)
            .expect("checked above");
        let field = |f: &str| format!("layers[{i}] (`{}`).{f}", l.name);
        let (k, n) = (info.k, info.n);
        let w = tensor(&format!("{}.weight", l.name), &[k, n])?
            .ok_or_else(|| format!("weights: tensor `{}.weight` is missing", l.name))?;
        let bias = match tensor(&format!("{}.bias", l.name), &[n])? {
            Some(_) if !info.has_bias => {
                return Err(format!(
                    "weights: tensor `{}.bias` given for a layer without a bias",
                    l.name
                ));
            }
            Some(b) => Some(b),
            // Not returned: the layer keeps the bias it was sent.
            None if info.has_bias => Some(original_bias(&l.name, n)?),
            None => None,
        };
        out.push((l.name.clone(), layer_kernel(l, k, n, w, bias, &field)?));
    }
    Ok(out)
}

/// One returned layer as a kernel, after checking its declared IR fields against its weights.
fn layer_kernel(
    l: &LayerOut,
    k: usize,
    n: usize,
    w: Vec<f32>,
    bias: Option<Vec<f32>>,
    field: &dyn Fn(&str) -> String,
) -> Result<Box<dyn GemmKernel>, String> {
    if l.act_bits != 32 {
        return Err(format!(
            "{}: {} is not supported by protocol {PROTOCOL_VERSION} (activations are computed in f32; only 32 is accepted)",
            field("act_bits"),
            l.act_bits
        ));
    }
    if l.vq.is_some() {
        return Err(format!(
            "{}: activation vector quantization is not supported by protocol {PROTOCOL_VERSION} (no LUT kernel for external methods)",
            field("vq")
        ));
    }
    if !(l.weight_bits == 32 || (1..=16).contains(&l.weight_bits)) {
        return Err(format!(
            "{}: {} is not 32 or in [1, 16]",
            field("weight_bits"),
            l.weight_bits
        ));
    }
    let sparsity = match &l.sparsity {
        None => None,
        Some(s) => {
            if s.block_k == 0 || s.block_n == 0 || s.block_k as usize > k || s.block_n as usize > n
            {
                return Err(format!(
                    "{}: block {}×{} must be at least 1×1 and at most K×N = {k}×{n}",
                    field("sparsity"),
                    s.block_k,
                    s.block_n
                ));
            }
            Some(measure_blocks(
                &w,
                k,
                n,
                s.block_k as usize,
                s.block_n as usize,
            ))
        }
    };
    let kernel: Box<dyn GemmKernel> = match &l.storage {
        Some(s) => {
            if l.weight_bits != 32 {
                return Err(format!(
                    "{}: codebook values are computed in f32; weight_bits must be 32 with a storage codebook",
                    field("weight_bits")
                ));
            }
            if !(1..=16).contains(&s.index_bits) {
                return Err(format!(
                    "{}: {} is not in [1, 16]",
                    field("storage.index_bits"),
                    s.index_bits
                ));
            }
            if s.value_bits != 32 {
                return Err(format!(
                    "{}: {} is not supported by protocol {PROTOCOL_VERSION} (codebook values are f32: 32)",
                    field("storage.value_bits"),
                    s.value_bits
                ));
            }
            let mut codebook: Vec<f32> = w.clone();
            codebook.sort_by(f32::total_cmp);
            codebook.dedup_by(|a, b| a.to_bits() == b.to_bits());
            let limit = 1usize << s.index_bits;
            if codebook.len() > limit {
                return Err(format!(
                    "{}: the weights hold {} distinct values, more than 2^{} = {limit}",
                    field("storage.index_bits"),
                    codebook.len(),
                    s.index_bits
                ));
            }
            let indices: Vec<u16> = w
                .iter()
                .map(|x| {
                    codebook
                        .binary_search_by(|c| c.total_cmp(x))
                        .expect("value is in the codebook") as u16
                })
                .collect();
            Box::new(codebook_gemm(
                k,
                n,
                &indices,
                &codebook,
                s.index_bits,
                NumFormat::FP32,
                bias,
            ))
        }
        None => Box::new(DenseGemm::new(k, n, w.clone(), bias)),
    };
    let int_weights = if l.weight_bits < 32 && l.storage.is_none() {
        let b = l.weight_bits;
        for col in 0..n {
            let mut vals: Vec<u32> = (0..k).map(|r| w[r * n + col].to_bits()).collect();
            vals.sort_unstable();
            vals.dedup();
            if vals.len() > 1usize << b {
                return Err(format!(
                    "{}: output column {col} holds {} distinct values, more than 2^{b}",
                    field("weight_bits"),
                    vals.len()
                ));
            }
        }
        Some(NumFormat::Int(b))
    } else {
        None
    };
    if int_weights.is_none() && sparsity.is_none() {
        return Ok(kernel);
    }
    Ok(Box::new(declared_gemm(kernel, int_weights, sparsity)))
}

/// Keep-mask of `bk × bn` blocks (a block is kept when any of its weights is non-zero).
pub fn measure_blocks(w: &[f32], k: usize, n: usize, bk: usize, bn: usize) -> BlockSparsity {
    let (kb, nb) = (k.div_ceil(bk), n.div_ceil(bn));
    let mut mask = vec![false; kb * nb];
    for r in 0..k {
        for c in 0..n {
            if w[r * n + c] != 0.0 {
                mask[(r / bk) * nb + c / bn] = true;
            }
        }
    }
    let kept = mask.iter().filter(|&&m| m).count();
    BlockSparsity {
        block_k: bk as u32,
        block_n: bn as u32,
        density: kept as f64 / mask.len() as f64,
        mask: Some(mask),
    }
}
