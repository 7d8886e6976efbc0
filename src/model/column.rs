//! A column of figures, one value per segment.
//!
//! Columns are the values rule scripts compute with: `fte * m_leave` multiplies every
//! segment's figures at once. They are reference-counted so that handing one to the
//! interpreter, or keeping it as a month's result, copies a pointer rather than the data.

use std::sync::Arc;

/// One `f64` per segment, cheap to clone.
#[derive(Debug, Clone)]
pub struct Column(Arc<Vec<f64>>);

/// Two columns are equal when every value is, an empty input (NaN, as an optional input
/// column holds it) being equal to an empty one: two reads of one file are the same table.
impl PartialEq for Column {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(other.0.iter())
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }
}

impl Column {
    pub fn new(values: Vec<f64>) -> Self {
        Self(Arc::new(values))
    }

    /// A column of `len` copies of `value`.
    pub fn filled(len: usize, value: f64) -> Self {
        Self::new(vec![value; len])
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn values(&self) -> &[f64] {
        &self.0
    }

    /// Mutable access, copying the values first if another holder shares them.
    pub fn values_mut(&mut self) -> &mut Vec<f64> {
        Arc::make_mut(&mut self.0)
    }

    /// Mutable access only if no other holder shares the values: lets an operation on a
    /// temporary column write its result over its operand instead of allocating.
    pub fn unique_mut(&mut self) -> Option<&mut Vec<f64>> {
        Arc::get_mut(&mut self.0)
    }

    /// The values, if no other holder shares them.
    pub fn into_unique(self) -> Option<Vec<f64>> {
        Arc::try_unwrap(self.0).ok()
    }

    pub fn into_vec(self) -> Vec<f64> {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }

    /// Applies `f` to every value.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Column {
        Column::new(self.0.iter().map(|&x| f(x)).collect())
    }

    /// Combines two columns of the same length value by value.
    pub fn zip(&self, other: &Column, f: impl Fn(f64, f64) -> f64) -> Column {
        debug_assert_eq!(self.len(), other.len());
        Column::new(
            self.0
                .iter()
                .zip(other.0.iter())
                .map(|(&a, &b)| f(a, b))
                .collect(),
        )
    }

    pub fn sum(&self) -> f64 {
        self.0.iter().sum()
    }
}

impl From<Vec<f64>> for Column {
    fn from(values: Vec<f64>) -> Self {
        Column::new(values)
    }
}
