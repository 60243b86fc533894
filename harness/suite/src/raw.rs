//! The suite file as written: serde types that keep every value's source location.
//!
//! Nothing here judges values beyond their YAML shape; [`crate::validate`] turns a [`RawSuite`]
//! into a checked [`crate::Suite`]. Maps are kept as ordered `(key, value)` lists so keys keep
//! their locations and order (grid expansion follows the order the author wrote).

use std::fmt;
use std::marker::PhantomData;

use compbench_core::Value;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSuite {
    pub schema_version: S<i64>,
    pub name: S<String>,
    #[serde(default)]
    pub paper: Option<S<String>>,
    #[serde(default)]
    pub description: Option<S<String>>,
    pub models: S<Vec<S<RawEntry>>>,
    pub datasets: S<Vec<S<String>>>,
    pub methods: S<Vec<S<RawEntry>>>,
    /// Trained models that method entries may distill from (`teacher: <label>`).
    #[serde(default)]
    pub teachers: Option<S<Vec<S<RawEntry>>>>,
    #[serde(default)]
    pub hwmodels: Option<S<Vec<S<RawEntry>>>>,
    /// Batch sizes hardware is priced at: an integer or a list (checked in `validate`).
    #[serde(default)]
    pub hw_batch: Option<S<ParamValue>>,
    pub seeds: S<Vec<S<i64>>>,
    #[serde(default)]
    pub metrics: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub quick: Option<S<RawQuick>>,
}

/// A model, method or hardware-model entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntry {
    pub id: S<String>,
    #[serde(default)]
    pub label: Option<S<String>>,
    /// Scalars are fixed values; lists are grid axes (cartesian product).
    #[serde(default)]
    pub params: Option<S<ParamMap>>,
    /// Groups of parameters that vary together: each group's lists have one length.
    #[serde(default)]
    pub zip: Option<S<Vec<S<ParamMap>>>>,
    /// Methods only: the label of a `teachers:` entry to distill from.
    #[serde(default)]
    pub teacher: Option<S<String>>,
    /// Models only: the method labels this model runs (default: every method).
    #[serde(default)]
    pub methods: Option<S<Vec<S<String>>>>,
    /// Methods only: the model labels this method runs on (default: every model).
    #[serde(default)]
    pub models: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQuick {
    #[serde(default)]
    pub seeds: Option<S<Vec<S<i64>>>>,
    #[serde(default)]
    pub hw_batch: Option<S<ParamValue>>,
    #[serde(default)]
    pub test_subset: Option<S<i64>>,
    #[serde(default)]
    pub train_subset: Option<S<i64>>,
    #[serde(default)]
    pub models: Option<S<LabeledMap>>,
    #[serde(default)]
    pub methods: Option<S<LabeledMap>>,
    #[serde(default)]
    pub teachers: Option<S<LabeledMap>>,
    #[serde(default)]
    pub hwmodels: Option<S<LabeledMap>>,
}

/// `name: value-or-list` pairs in file order.
pub(crate) type ParamMap = OrderedMap<S<ParamValue>>;
/// `label: { name: value-or-list }` pairs in file order (the `quick:` overrides).
pub(crate) type LabeledMap = OrderedMap<S<ParamMap>>;

/// A YAML mapping as ordered `(key, value)` pairs with the keys' locations.
#[derive(Debug)]
pub(crate) struct OrderedMap<V>(pub Vec<(S<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<S<String>>()? {
                    let v = map.next_value::<V>()?;
                    out.push((k, v));
                }
                Ok(OrderedMap(out))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

/// One parameter as written: a scalar (fixed) or a list of scalars (a grid axis).
#[derive(Debug)]
pub(crate) enum ParamValue {
    One(Value),
    List(Vec<S<Scalar>>),
}

/// A scalar parameter value.
#[derive(Debug)]
pub(crate) struct Scalar(pub Value);

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, string or bool")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Err(E::custom("expected a value, found null"))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Err(E::custom("expected a value, found null"))
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, string or bool (lists cannot nest)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                ScalarVisitor.visit_bool(v).map(Scalar)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                ScalarVisitor.visit_i64(v).map(Scalar)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                ScalarVisitor.visit_u64(v).map(Scalar)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                ScalarVisitor.visit_f64(v).map(Scalar)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                ScalarVisitor.visit_str(v).map(Scalar)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                ScalarVisitor.visit_unit().map(Scalar)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                ScalarVisitor.visit_none().map(Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, string or bool, or a list of them")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParamValue, E> {
                ScalarVisitor.visit_bool(v).map(ParamValue::One)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParamValue, E> {
                ScalarVisitor.visit_i64(v).map(ParamValue::One)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParamValue, E> {
                ScalarVisitor.visit_u64(v).map(ParamValue::One)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParamValue, E> {
                ScalarVisitor.visit_f64(v).map(ParamValue::One)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ParamValue, E> {
                ScalarVisitor.visit_str(v).map(ParamValue::One)
            }
            fn visit_unit<E: de::Error>(self) -> Result<ParamValue, E> {
                ScalarVisitor.visit_unit().map(ParamValue::One)
            }
            fn visit_none<E: de::Error>(self) -> Result<ParamValue, E> {
                ScalarVisitor.visit_none().map(ParamValue::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParamValue, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<S<Scalar>>()? {
                    out.push(x);
                }
                Ok(ParamValue::List(out))
            }
        }
        d.deserialize_any(V)
    }
}
