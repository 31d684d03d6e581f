// The policy file: TOML, parsed into a `ResourceLimit` with every error
// naming the file, the line and the key (`class.batch.max_tasks`).
//
// The parser walks toml's spanned document tree (`toml::de::DeTable`)
// instead of deriving serde: the spans give the line of every key and value,
// and unknown keys are errors with the list of the keys that exist.

use super::{Burst, PolicyError, ResourceLimit};
use crate::container::K8sQos;
use crate::task::Qos;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

const TOP: &[&str] = &["limits", "class"];
const LIMITS: &[&str] = &[
    "cpu_millicores",
    "memory_mb",
    "max_workers",
    "max_locks",
    "max_tasks",
    "qos",
    "numa_nodes",
];
const CLASS: &[&str] = &[
    "max_tasks",
    "max_queue_depth",
    "burst_credits",
    "burst_refill_per_sec",
];

/// A key's dotted name, the key, and its value.
type Entry<'t, 'i> = (String, &'t str, &'t Spanned<DeValue<'i>>);

struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, field: &str, message: String) -> PolicyError {
        PolicyError {
            path: self.path.to_owned(),
            line: Some(line_of(self.text, span.start)),
            field: (!field.is_empty()).then(|| field.to_owned()),
            message,
        }
    }

    /// `v` as the kind `as_kind` takes, or an error saying it is not `what`.
    fn kind<'t, 'i, T: ?Sized>(
        &self,
        v: &'t Spanned<DeValue<'i>>,
        field: &str,
        what: &str,
        as_kind: impl FnOnce(&'t DeValue<'i>) -> Option<&'t T>,
    ) -> Result<&'t T, PolicyError> {
        as_kind(v.get_ref()).ok_or_else(|| {
            self.err(
                v.span(),
                field,
                format!("expected {what}, found {}", v.get_ref().type_str()),
            )
        })
    }

    fn table<'t, 'i>(
        &self,
        v: &'t Spanned<DeValue<'i>>,
        field: &str,
    ) -> Result<&'t DeTable<'i>, PolicyError> {
        self.kind(v, field, "a table", DeValue::as_table)
    }

    fn uint(&self, v: &Spanned<DeValue<'_>>, field: &str) -> Result<u64, PolicyError> {
        let n = self.kind(v, field, "a whole number", DeValue::as_integer)?;
        u64::from_str_radix(n.as_str(), n.radix()).map_err(|_| {
            self.err(
                v.span(),
                field,
                format!(
                    "{} is not a count: expected a whole number from 0 to {}",
                    n,
                    u64::MAX
                ),
            )
        })
    }

    fn usize(&self, v: &Spanned<DeValue<'_>>, field: &str) -> Result<usize, PolicyError> {
        let n = self.uint(v, field)?;
        usize::try_from(n).map_err(|_| {
            self.err(
                v.span(),
                field,
                format!("{n} is larger than this machine's usize"),
            )
        })
    }

    fn u32(&self, v: &Spanned<DeValue<'_>>, field: &str) -> Result<u32, PolicyError> {
        let n = self.uint(v, field)?;
        u32::try_from(n).map_err(|_| {
            self.err(
                v.span(),
                field,
                format!("{n} is too large: at most {}", u32::MAX),
            )
        })
    }

    /// Each key of `table`, checked against `known`, with its dotted name.
    fn entries<'t, 'i>(
        &self,
        table: &'t DeTable<'i>,
        prefix: &str,
        known: &[&str],
    ) -> Result<Vec<Entry<'t, 'i>>, PolicyError> {
        let mut out = Vec::with_capacity(table.len());
        for (k, v) in table {
            let key: &str = k.get_ref();
            let field = if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}.{key}")
            };
            if !known.contains(&key) {
                return Err(self.err(
                    k.span(),
                    &field,
                    format!("unknown key; expected one of: {}", known.join(", ")),
                ));
            }
            out.push((field, key, v));
        }
        Ok(out)
    }
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

pub(super) fn parse(text: &str, path: &Path) -> Result<ResourceLimit, PolicyError> {
    let ctx = Ctx { path, text };
    let doc = DeTable::parse(text).map_err(|e| PolicyError {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
        field: None,
        message: format!("not valid TOML: {}", e.message()),
    })?;
    let mut out = ResourceLimit::default();
    for (field, key, v) in ctx.entries(doc.get_ref(), "", TOP)? {
        let table = ctx.table(v, &field)?;
        match key {
            "limits" => limits(&ctx, table, &mut out)?,
            _ => classes(&ctx, table, &mut out)?,
        }
    }
    Ok(out)
}

fn limits(ctx: &Ctx<'_>, table: &DeTable<'_>, out: &mut ResourceLimit) -> Result<(), PolicyError> {
    for (field, key, v) in ctx.entries(table, "limits", LIMITS)? {
        match key {
            "cpu_millicores" => out.cpu_millicores = Some(ctx.uint(v, &field)?),
            "memory_mb" => out.memory_mb = Some(ctx.uint(v, &field)?),
            "max_workers" => out.max_workers = Some(ctx.usize(v, &field)?),
            "max_locks" => out.max_locks = Some(ctx.usize(v, &field)?),
            "max_tasks" => out.max_tasks = Some(ctx.usize(v, &field)?),
            "qos" => out.qos = Some(k8s_qos(ctx, v, &field)?),
            _ => out.numa_nodes = Some(numa_nodes(ctx, v, &field)?),
        }
    }
    Ok(())
}

fn k8s_qos(ctx: &Ctx<'_>, v: &Spanned<DeValue<'_>>, field: &str) -> Result<K8sQos, PolicyError> {
    let s = ctx.kind(v, field, "a string", DeValue::as_str)?;
    [K8sQos::Guaranteed, K8sQos::Burstable, K8sQos::BestEffort]
        .into_iter()
        .find(|q| q.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            ctx.err(
                v.span(),
                field,
                format!(
                    "\"{s}\" is not a pod QoS class; expected guaranteed, burstable or besteffort"
                ),
            )
        })
}

fn numa_nodes(
    ctx: &Ctx<'_>,
    v: &Spanned<DeValue<'_>>,
    field: &str,
) -> Result<Vec<usize>, PolicyError> {
    let items = ctx.kind(v, field, "a list of NUMA node numbers", DeValue::as_array)?;
    let mut nodes = items
        .iter()
        .map(|n| ctx.usize(n, field))
        .collect::<Result<Vec<_>, _>>()?;
    if nodes.is_empty() {
        return Err(ctx.err(
            v.span(),
            field,
            "an empty list allows no node; leave the key out to allow every node".to_owned(),
        ));
    }
    nodes.sort_unstable();
    nodes.dedup();
    Ok(nodes)
}

fn classes(ctx: &Ctx<'_>, table: &DeTable<'_>, out: &mut ResourceLimit) -> Result<(), PolicyError> {
    let names: Vec<&str> = Qos::ALL.iter().map(|q| q.as_str()).collect();
    for (field, key, v) in ctx.entries(table, "class", &names)? {
        let qos = Qos::ALL
            .into_iter()
            .find(|q| q.as_str() == key)
            .unwrap_or_default();
        let t = ctx.table(v, &field)?;
        let class = &mut out.classes[qos.index()];
        let (mut credits, mut refill) = (None, None);
        for (field, key, v) in ctx.entries(t, &field, CLASS)? {
            match key {
                "max_tasks" => class.max_tasks = Some(ctx.usize(v, &field)?),
                "max_queue_depth" => class.max_queue_depth = Some(ctx.usize(v, &field)?),
                "burst_credits" => credits = Some((ctx.u32(v, &field)?, v.span())),
                _ => refill = Some((ctx.u32(v, &field)?, v.span())),
            }
        }
        class.burst = match (credits, refill) {
            (None, None) => None,
            (Some((credits, _)), Some((refill_per_sec, _))) => Some(Burst {
                credits,
                refill_per_sec,
            }),
            (Some((_, span)), None) => {
                return Err(ctx.err(
                    span,
                    &format!("{field}.burst_refill_per_sec"),
                    "missing: burst_credits needs a refill rate (credits per second)".to_owned(),
                ))
            }
            (None, Some((_, span))) => {
                return Err(ctx.err(
                    span,
                    &format!("{field}.burst_credits"),
                    "missing: burst_refill_per_sec needs a credit count".to_owned(),
                ))
            }
        };
    }
    Ok(())
}
