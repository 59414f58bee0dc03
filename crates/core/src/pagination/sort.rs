//! Sort keys and orders: each list's allow-list of sorts, each sort its keyset columns.

crate::text_enum! {
    /// Sort order of a list (`order=asc|desc`).
    SortOrder {
        Asc => "asc",
        Desc => "desc",
    }
}

impl SortOrder {
    /// `ASC` / `DESC`.
    pub fn sql(self) -> &'static str {
        match self {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        }
    }
}

/// What a key column holds, so a cursor's values are checked and bound with the right type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Any integer column (bound as `int8`; PostgreSQL compares int2/int4 columns with it index-usably).
    Int,
    Text,
    /// `timestamptz`
    Time,
    /// `date`
    Date,
}

/// One keyset column: a whitelisted SQL expression (never client input) and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub column: &'static str,
    pub kind: KeyKind,
}

impl Key {
    pub const fn int(column: &'static str) -> Key {
        Key {
            column,
            kind: KeyKind::Int,
        }
    }
    pub const fn text(column: &'static str) -> Key {
        Key {
            column,
            kind: KeyKind::Text,
        }
    }
    pub const fn time(column: &'static str) -> Key {
        Key {
            column,
            kind: KeyKind::Time,
        }
    }
    pub const fn date(column: &'static str) -> Key {
        Key {
            column,
            kind: KeyKind::Date,
        }
    }
}

/// A list's allow-list of sorts: usually an enum with one variant per `sort=` value (a list with one fixed sort
/// has one variant). `Default` is the sort used when the request names none.
pub trait Sort: Copy + Eq + Default + 'static {
    /// The name written into cursors (the `sort=` spelling for lists that let clients choose).
    fn name(self) -> &'static str;

    /// The keyset columns, ordered: the sort column, then tie-breakers; together they must be unique per row
    /// (end with the primary key), and an index should lead with them. Declare them as a `const` item
    /// (`const KEYS: &[Key] = &[Key::time("l.created_at"), Key::int("l.id")];`): `const fn` calls are not
    /// promoted to `'static` in a plain expression.
    fn keys(self) -> &'static [Key];

    /// The order used when the request names none.
    fn default_order(self) -> SortOrder {
        SortOrder::Asc
    }
}

/// Declare the one fixed sort of a list that lets clients choose none:
/// `fixed_sort!(/// doc\n pub ById, "id", Asc, [Key::int("id")]);` gives a unit struct implementing [`Sort`].
#[macro_export]
macro_rules! fixed_sort {
    ($(#[$m:meta])* $vis:vis $name:ident, $sort:literal, $order:ident, [$($key:expr),+ $(,)?]) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        $vis struct $name;

        impl $crate::pagination::Sort for $name {
            fn name(self) -> &'static str {
                $sort
            }
            fn keys(self) -> &'static [$crate::pagination::Key] {
                const KEYS: &[$crate::pagination::Key] = &[$($key),+];
                KEYS
            }
            fn default_order(self) -> $crate::pagination::SortOrder {
                $crate::pagination::SortOrder::$order
            }
        }
    };
}
