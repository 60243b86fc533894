//! Save and load any burn module's float parameters as safetensors, keyed by module path
//! (e.g. `Cnn.conv1.weight`). Writes are atomic (temp file + rename).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};

/// Every float parameter as `(path, shape, values)`, in visiting order.
pub fn named_tensors<M: Module>(module: &M) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    struct Collect {
        path: Vec<String>,
        out: Vec<(String, Vec<usize>, Vec<f32>)>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let values = t
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32 parameter");
            self.out.push((self.path.join("."), shape, values));
        }
    }
    let mut c = Collect {
        path: Vec::new(),
        out: Vec::new(),
    };
    module.visit(&mut c);
    c.out
}

/// Write `module`'s parameters (and string metadata) to `path` atomically.
pub fn save<M: Module>(
    module: &M,
    path: &Path,
    metadata: BTreeMap<String, String>,
) -> std::io::Result<()> {
    let tensors = named_tensors(module);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).expect("consistent shape"),
            )
        })
        .collect();
    let meta: HashMap<String, String> = metadata.into_iter().collect();
    let data = safetensors::serialize(views, Some(meta)).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

/// Load parameters saved by [`save`] into `module` (which must have the same structure; it
/// keeps its devices and parameter ids). Errors name the missing or mis-shaped tensor.
pub fn load<M: Module>(module: M, path: &Path) -> Result<M, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "{}: tensor `{name}` is {:?}, expected F32",
                path.display(),
                view.dtype()
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), values));
    }
    struct Load {
        path: Vec<String>,
        tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        error: Option<String>,
    }
    impl ModuleMapper for Load {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let name = self.path.join(".");
            let Some((shape, values)) = self.tensors.remove(&name) else {
                self.error.get_or_insert(format!("missing tensor `{name}`"));
                return param;
            };
            let dims = param.val().dims();
            if shape != dims.to_vec() {
                self.error.get_or_insert(format!(
                    "tensor `{name}` has shape {shape:?}, the model expects {dims:?}"
                ));
                return param;
            }
            param.map(|t| Tensor::from_data(TensorData::new(values, dims), &t.device()))
        }
    }
    let mut l = Load {
        path: Vec::new(),
        tensors,
        error: None,
    };
    let module = module.map(&mut l);
    match l.error {
        Some(e) => Err(format!("{}: {e}", path.display())),
        None => Ok(module),
    }
}

/// String metadata stored in a checkpoint.
pub fn metadata(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect())
}
