//! The rhai runtime: the engine and its limits, the column type and the functions rules
//! call, and the loading and checking of the scripts in the top-level `rules/` folder.
//!
//! This module owns *how* scripts run; `engine/` owns *when* (the month loop) and what
//! state they see. Scripts are compiled once per batch into ASTs that every rayon worker
//! shares. Nothing here reads data or writes results.
//!
//! The script contract (the variables each script reads and writes) is described in
//! `rules/README.md`; [`contract`] lists the names in code.

pub mod columns;
pub mod fused;
pub mod sandbox;
pub mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rhai::packages::Package;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope, AST};
use sha2::{Digest, Sha256};

/// The variable names shared by the engine and the scripts.
pub mod contract {
    /// Effective values for the month, set by `rates.rhai` and changed by interventions.
    pub const MONTH_STATE: [&str; 6] = [
        "leaver",
        "sickness",
        "bank_share",
        "agency_share",
        "required",
        "fill_rate",
    ];
    /// Added to by interventions; the engine sets them to zero at the start of each month.
    pub const ACCUMULATORS: [&str; 10] = [
        "newly_qualified",
        "apprentices_qualified",
        "returners",
        "international",
        "trainees",
        "apprentices",
        "intervention_cost",
        "time_released_fte",
        "transfers_in",
        "transfers_out",
    ];
    /// The month's figures, set by `flows.rhai`, and the next month's staff in post.
    pub const FLOWS: [&str; 16] = [
        "vacancies",
        "leavers",
        "recruits",
        "joiners",
        "sickness_fte",
        "available_hours",
        "clinical_hours",
        "demand_hours",
        "bank_hours",
        "agency_hours",
        "unmet_hours",
        "pay_cost",
        "bank_cost",
        "agency_cost",
        "time_released_hours",
        "fte_next",
    ];
    /// Set by the engine for every script.
    pub const GIVEN: [&str; 8] = [
        "seg",
        "t",
        "calendar_month",
        "months",
        "fte",
        "zeros",
        "annual_leave_season",
        "sickness_season",
    ];
    /// Set by the engine for an intervention's script, besides its own fields.
    pub const INTERVENTION: [&str; 5] = ["ramp", "active", "matched", "weight", "timing"];
    /// Common fields of every intervention, read by the engine, not by kind scripts.
    pub const COMMON_FIELDS: [&str; 7] = [
        "kind",
        "name",
        "where",
        "start",
        "end",
        "ramp_months",
        "cost_per_month",
    ];

    /// The script variable holding each output metric, in `METRICS` order.
    pub fn variable_of(metric: &str) -> &str {
        match metric {
            "required_fte" => "required",
            other => other,
        }
    }
}

/// A problem in a rule script, located by file, line and column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleProblem {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RuleProblem {}

/// Every problem found while loading the rules.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} problem(s) in the rules:\n{}", .0.len(), .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
pub struct RuleProblems(pub Vec<RuleProblem>);

/// One compiled script and where it came from.
#[derive(Debug, Clone)]
pub struct RuleScript {
    /// Shown in errors, for example `rules/interventions/placements.rhai`.
    pub file: String,
    pub source: String,
    pub ast: AST,
    /// Why the rule compiler cannot record the script, if it cannot (see [`fused`]).
    pub not_recordable: Option<String>,
}

/// When in the month an intervention kind acts. Kinds run stage by stage, in file order
/// within a stage (docs/model.md: rate kinds, then skill mix; transfers and pipelines only
/// add flows computed from the month's staff in post, and costs, so their place after the
/// rates does not change any figure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Rates,
    SkillMix,
    Transfer,
    Pipeline,
}

impl Stage {
    /// As a kind's declaration writes it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Rates => "rates",
            Stage::SkillMix => "skill_mix",
            Stage::Transfer => "transfer",
            Stage::Pipeline => "pipeline",
        }
    }
}

/// The type of a kind's field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Number,
    Integer,
    /// A `where`-style filter, given to the script as a mask.
    Filter,
    /// A list of key column names, given to the script as the segments' groups: segments
    /// with the same values in every listed column are in one group.
    KeyColumns,
}

impl FieldType {
    /// As a kind's declaration writes it.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Filter => "filter",
            FieldType::KeyColumns => "key_columns",
        }
    }
}

impl FieldSpec {
    /// Does a scenario have to give it?
    pub fn is_required(&self) -> bool {
        self.default.is_none() && self.default_columns.is_none()
    }
}

/// A field an intervention kind reads, as its script declares it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldSpec {
    pub name: String,
    pub field_type: FieldType,
    /// `None` (and no `default_columns`) means the field is required.
    pub default: Option<f64>,
    /// The default of a `key_columns` field.
    pub default_columns: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub doc: String,
}

/// An intervention kind: one script in `rules/interventions/`.
#[derive(Debug, Clone)]
pub struct KindRule {
    pub name: String,
    pub summary: String,
    pub stage: Stage,
    pub fields: Vec<FieldSpec>,
    pub script: RuleScript,
}

/// The whole rule set: the two month scripts and every intervention kind.
pub struct RuleSet {
    engine: Engine,
    /// The engine that records scripts for the rule compiler ([`fused`]).
    recorder: Engine,
    /// Whether runs use the rule compiler or the interpreter alone.
    pub execution: Execution,
    /// `rates.rhai`: the month's effective rates and required FTE before interventions.
    pub rates: RuleScript,
    /// `flows.rhai`: the month's figures and next month's staff in post.
    pub flows: RuleScript,
    pub kinds: BTreeMap<String, KindRule>,
    /// SHA-256 of every script, so a stored run says exactly which rules produced it.
    pub fingerprint: String,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("kinds", &self.kinds.keys())
            .finish()
    }
}

/// How runs execute the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// Record each month's rules once and replay them as fused kernels ([`fused`]),
    /// falling back to the interpreter for a scenario whose rules it cannot record.
    Auto,
    /// The rule compiler alone: a scenario it cannot record fails, saying why (for tests
    /// and benchmarks that must know which ran).
    Compiled,
    /// Run every statement of every rule each month on the interpreter.
    Interpreted,
}

impl Execution {
    /// `WFPLAN_RULES=interpreted` or `compiled` choose one way (for comparisons); the
    /// default is the compiler with the interpreter to fall back on.
    pub fn from_env() -> Execution {
        match std::env::var("WFPLAN_RULES").as_deref() {
            Ok("interpreted") => Execution::Interpreted,
            Ok("compiled") => Execution::Compiled,
            _ => Execution::Auto,
        }
    }
}

/// A sandboxed engine with the column type and our functions registered.
pub fn new_engine() -> Engine {
    let mut engine = Engine::new_raw();
    engine.register_global_module(rhai::packages::StandardPackage::new().as_shared_module());
    sandbox::apply_limits(&mut engine);
    columns::register(&mut engine);
    values::register(&mut engine);
    // Every function registered here is pure (a result from its arguments alone), so the
    // compiler may evaluate calls with constant arguments once, when a script is compiled.
    engine.set_optimization_level(rhai::OptimizationLevel::Full);
    engine
}

impl RuleSet {
    /// A scenario's transfers and their yearly `rate`s, with their place in its list:
    /// with the leaver rate, what may not take all of a segment's staff in a year.
    pub fn transfers<'s>(
        &self,
        scenario: &'s crate::model::Scenario,
    ) -> Vec<(usize, &'s crate::model::Intervention, f64)> {
        scenario
            .interventions
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                self.kinds
                    .get(&i.kind)
                    .is_some_and(|k| k.stage == Stage::Transfer)
            })
            .filter_map(|(at, i)| match i.field("rate") {
                Some(crate::model::scenario::FieldValue::Number(rate)) => Some((at, i, *rate)),
                _ => None,
            })
            .collect()
    }

    /// Loads and compiles `dir/rates.rhai`, `dir/flows.rhai` and `dir/interventions/*.rhai`,
    /// reporting every problem found.
    pub fn load(dir: &Path) -> Result<RuleSet, RuleProblems> {
        let mut files = vec![dir.join("rates.rhai"), dir.join("flows.rhai")];
        let kinds_dir = dir.join("interventions");
        match std::fs::read_dir(&kinds_dir) {
            Ok(entries) => {
                let mut kind_files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
                    .collect();
                kind_files.sort();
                files.extend(kind_files);
            }
            Err(e) => {
                return Err(RuleProblems(vec![RuleProblem {
                    file: kinds_dir.display().to_string(),
                    line: None,
                    column: None,
                    message: format!("cannot read the intervention kinds folder: {e}"),
                }]))
            }
        }
        let mut sources = Vec::new();
        let mut problems = Vec::new();
        for path in files {
            match read_script(&path) {
                Ok(source) => sources.push((path.display().to_string(), source)),
                Err(p) => problems.push(p),
            }
        }
        if !problems.is_empty() {
            // Still compile what could be read, so one pass reports every problem.
            let engine = new_engine();
            problems.extend(
                sources
                    .iter()
                    .filter_map(|(file, source)| compile(&engine, file, source).err()),
            );
            return Err(RuleProblems(problems));
        }
        Self::from_sources(sources)
    }

    /// The rules built into wfplan: the project's `rules/` when it was built.
    pub fn bundled() -> Result<RuleSet, RuleProblems> {
        Self::from_sources(crate::bundled::rule_sources())
    }

    /// Compiles scripts given as `(file name, source)`: the first two are `rates` and
    /// `flows`, the rest intervention kinds named after their file stem.
    pub fn from_sources(sources: Vec<(String, String)>) -> Result<RuleSet, RuleProblems> {
        let engine = new_engine();
        let mut problems = Vec::new();
        let mut hasher = Sha256::new();
        let mut compiled = Vec::new();
        for (file, source) in sources {
            hasher.update(file.as_bytes());
            hasher.update([0]);
            hasher.update(source.as_bytes());
            hasher.update([0]);
            match compile(&engine, &file, &source) {
                Ok(script) => compiled.push(Some(script)),
                Err(p) => {
                    problems.push(p);
                    compiled.push(None);
                }
            }
        }
        let mut compiled = compiled.into_iter();
        let rates = compiled.next().flatten();
        let flows = compiled.next().flatten();
        let mut kinds = BTreeMap::new();
        for script in compiled.flatten() {
            match describe_kind(&engine, script) {
                Ok(kind) => {
                    kinds.insert(kind.name.clone(), kind);
                }
                Err(p) => problems.push(p),
            }
        }
        match (rates, flows, problems.is_empty()) {
            (Some(rates), Some(flows), true) => Ok(RuleSet {
                engine,
                recorder: fused::new_engine(),
                execution: Execution::from_env(),
                rates,
                flows,
                kinds,
                fingerprint: crate::model::hex(&hasher.finalize()),
            }),
            _ => Err(RuleProblems(problems)),
        }
    }

    /// Runs a script's statements against `scope`. Variables the script declares are left in
    /// the scope; the caller rewinds it.
    pub fn run(&self, script: &RuleScript, scope: &mut Scope) -> Result<(), RuleProblem> {
        self.engine
            .run_ast_with_scope(scope, &script.ast)
            .map_err(|e| runtime_problem(&script.file, &e))
    }

    /// Runs a script's statements on the rule compiler's stand-in values, recording its
    /// column operations (see [`fused`]); refuses a script the recorder cannot be
    /// trusted with.
    pub fn record(&self, script: &RuleScript, scope: &mut Scope) -> Result<(), RuleProblem> {
        if let Some(message) = &script.not_recordable {
            return Err(RuleProblem {
                file: script.file.clone(),
                line: None,
                column: None,
                message: message.clone(),
            });
        }
        self.recorder
            .run_ast_with_scope(scope, &script.ast)
            .map_err(|e| runtime_problem(&script.file, &e))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

fn read_script(path: &Path) -> Result<String, RuleProblem> {
    let problem = |message: String| RuleProblem {
        file: path.display().to_string(),
        line: None,
        column: None,
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| problem(format!("cannot read the rule: {e}")))?
        .len();
    if size > sandbox::MAX_SCRIPT_BYTES {
        return Err(problem(format!(
            "the rule is {size} bytes; rules may be at most {} bytes",
            sandbox::MAX_SCRIPT_BYTES
        )));
    }
    std::fs::read_to_string(path).map_err(|e| problem(format!("cannot read the rule: {e}")))
}

/// Compiles one script, or says where it does not parse.
pub fn compile(engine: &Engine, file: &str, source: &str) -> Result<RuleScript, RuleProblem> {
    if source.len() as u64 > sandbox::MAX_SCRIPT_BYTES {
        return Err(RuleProblem {
            file: file.to_string(),
            line: None,
            column: None,
            message: format!(
                "the rule is {} bytes; rules may be at most {} bytes",
                source.len(),
                sandbox::MAX_SCRIPT_BYTES
            ),
        });
    }
    match engine.compile(source) {
        Ok(ast) => Ok(RuleScript {
            file: file.to_string(),
            source: source.to_string(),
            ast,
            not_recordable: fused::compilable(source).err(),
        }),
        Err(e) => Err(RuleProblem {
            file: file.to_string(),
            line: e.1.line(),
            column: e.1.position(),
            message: e.0.to_string(),
        }),
    }
}

/// Turns a rhai error into a problem at the innermost position, so an error inside a
/// script function points at the failing line rather than at the call.
pub fn runtime_problem(file: &str, error: &EvalAltResult) -> RuleProblem {
    let inner = error.unwrap_inner();
    let position = match inner.position() {
        p if p.is_none() => error.position(),
        p => p,
    };
    let message = match inner {
        EvalAltResult::ErrorTerminated(..) => {
            "the rule ran past its scenario's time budget and was stopped".to_string()
        }
        EvalAltResult::ErrorTooManyOperations(..) => format!(
            "the rule took more than {} operations in one month and was stopped",
            sandbox::MAX_OPERATIONS_PER_CALL
        ),
        // rhai ends its messages with the position, which the problem carries separately.
        other => {
            let text = other.to_string();
            match text.rfind(" (line ") {
                Some(at) if text.ends_with(')') => text[..at].to_string(),
                _ => text,
            }
        }
    };
    RuleProblem {
        file: file.to_string(),
        line: position.line(),
        column: position.position(),
        message,
    }
}

/// Compiles one script without adding it to a rule set, as `wfplan serve`'s rule check
/// does; for an intervention kind it also reads the kind's declaration.
pub fn check_script(
    file: &str,
    source: &str,
    is_kind: bool,
) -> Result<Option<KindRule>, RuleProblem> {
    let engine = new_engine();
    let script = compile(&engine, file, source)?;
    if is_kind {
        describe_kind(&engine, script).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads a kind's declaration from its script's `kind()` function.
fn describe_kind(engine: &Engine, script: RuleScript) -> Result<KindRule, RuleProblem> {
    let name = Path::new(&script.file)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let problem = |message: String| RuleProblem {
        file: script.file.clone(),
        line: None,
        column: None,
        message,
    };
    let mut scope = Scope::new();
    let options = rhai::CallFnOptions::new().eval_ast(false);
    // Every evaluation runs under a deadline as well as the operation limits.
    let _deadline = sandbox::DeadlineGuard::start(sandbox::DECLARATION_BUDGET);
    let declaration: Map = engine
        .call_fn_with_options(options, &mut scope, &script.ast, "kind", ())
        .map_err(|e| match *e {
            EvalAltResult::ErrorFunctionNotFound(..) => problem(
                "an intervention kind must define `fn kind()` returning #{ summary, stage, fields }".into(),
            ),
            ref other => runtime_problem(&script.file, other),
        })?;
    let text = |key: &str| {
        declaration
            .get(key)
            .and_then(|v| v.clone().into_string().ok())
    };
    let summary = text("summary").unwrap_or_default();
    let stage = match text("stage").as_deref() {
        Some("rates") => Stage::Rates,
        Some("skill_mix") => Stage::SkillMix,
        Some("transfer") => Stage::Transfer,
        Some("pipeline") => Stage::Pipeline,
        other => {
            return Err(problem(format!(
            "kind() must give a stage of \"rates\", \"skill_mix\", \"transfer\" or \"pipeline\", not {other:?}"
        )))
        }
    };
    let mut fields = Vec::new();
    if let Some(declared) = declaration.get("fields") {
        let declared = declared.clone().try_cast::<Map>().ok_or_else(|| {
            problem("kind().fields must be a map of field name to its declaration".into())
        })?;
        for (field, spec) in declared {
            fields.push(
                field_spec(field.as_str(), spec)
                    .map_err(|m| problem(format!("field '{field}': {m}")))?,
            );
        }
    }
    let reserved = contract::MONTH_STATE
        .iter()
        .chain(&contract::ACCUMULATORS)
        .chain(&contract::FLOWS)
        .chain(&contract::GIVEN)
        .chain(&contract::INTERVENTION)
        .chain(&contract::COMMON_FIELDS);
    for name in reserved {
        if fields.iter().any(|f| f.name == *name) {
            return Err(problem(format!(
                "field '{name}' has the name of a model variable or common field; choose another name"
            )));
        }
    }
    Ok(KindRule {
        name,
        summary,
        stage,
        fields,
        script,
    })
}

fn field_spec(name: &str, spec: Dynamic) -> Result<FieldSpec, String> {
    let spec = spec
        .try_cast::<Map>()
        .ok_or("declare it as a map, for example #{ default_value: 0.0 }")?;
    let number = |key: &str| -> Result<Option<f64>, String> {
        match spec.get(key) {
            None => Ok(None),
            Some(v) if v.is_unit() => Ok(None),
            Some(v) => v
                .as_float()
                .or_else(|_| v.as_int().map(|i| i as f64))
                .map(Some)
                .map_err(|_| format!("'{key}' must be a number")),
        }
    };
    let field_type = match spec.get("type").map(|v| v.to_string()).as_deref() {
        None | Some("number") => FieldType::Number,
        Some("integer") => FieldType::Integer,
        Some("filter") => FieldType::Filter,
        Some("key_columns") => FieldType::KeyColumns,
        Some(other) => {
            return Err(format!(
            "type must be \"number\", \"integer\", \"filter\" or \"key_columns\", not \"{other}\""
        ))
        }
    };
    let default_columns = match (field_type, spec.get("default_value")) {
        (FieldType::KeyColumns, Some(v)) => Some(
            v.clone()
                .try_cast::<rhai::Array>()
                .and_then(|items| {
                    items
                        .into_iter()
                        .map(|item| item.into_string().ok())
                        .collect::<Option<Vec<String>>>()
                })
                .ok_or("the default of a key_columns field must be a list of column names")?,
        ),
        _ => None,
    };
    Ok(FieldSpec {
        name: name.to_string(),
        field_type,
        default: match field_type {
            FieldType::KeyColumns => None,
            _ => number("default_value")?,
        },
        default_columns,
        min: number("min")?,
        max: number("max")?,
        doc: spec.get("doc").map(|v| v.to_string()).unwrap_or_default(),
    })
}
