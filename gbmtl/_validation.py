"""One validation gate for X, Y and sample weights: every error names what was wrong.

Frames of any library narwhals knows (polars, pyarrow, modin, cuDF, ...) are read by column
name, like pandas frames, through narwhals' conversion rather than a hand-written one per
library; plain arrays are read by position.
"""

from __future__ import annotations

import numbers

import narwhals as nw
import numpy as np
import pandas as pd

#: The largest sample weight the backends can hold (they store weights as float32).
MAX_WEIGHT = float(np.finfo(np.float32).max)


def native_frame(obj) -> pd.DataFrame | pd.Series | None:
    """A pandas version of a non-pandas data frame or series (polars, pyarrow, ...), else None."""
    if isinstance(obj, (pd.DataFrame, pd.Series, np.ndarray, list, tuple)):
        return None
    try:
        return nw.from_native(obj, eager_only=True).to_pandas()
    except TypeError:
        pass
    try:
        return nw.from_native(obj, series_only=True).to_pandas()
    except TypeError:
        return None


def _from_array(arr: np.ndarray, names: list[str]) -> pd.DataFrame:
    """A frame from a 2-D array; object arrays get each column's own type (numbers stay numbers
    beside a text column), as a DataFrame of those columns would have."""
    frame = pd.DataFrame(arr, columns=names)
    if arr.dtype != object:
        return frame
    frame = frame.infer_objects()
    for c in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
        odd = next((v for v in frame[c]
                    if not (v is None or isinstance(v, (str, numbers.Number)))), None)
        if odd is not None:
            raise TypeError(
                f"X column {c!r} holds a {type(odd).__name__}; each value must be a string or a "
                "number (argument must be a string or a number)"
            )
    return frame


#: Tables up to this many rows are checked through one copy of their float columns.
SMALL_TABLE = 1024


def check_feature_values(X: pd.DataFrame, where: str = "X") -> None:
    """Refuse what the backends cannot take, naming the columns: no columns at all, date and
    duration columns, infinite numbers."""
    if X.shape[1] == 0:
        raise ValueError(f"{where} has no columns; give at least one feature")
    # From the dtypes, not the columns: a column taken out of a frame is a new Series, which
    # costs more than the check on a one-row frame.
    # A dtype's kind: "M" datetimes (with time zones too), "m" durations, "f" floats (the
    # nullable Float64 too); periods are objects of their own dtype.
    dtypes = X.dtypes
    kinds = [getattr(d, "kind", "O") for d in dtypes]
    dated = [c for c, d, k in zip(X.columns, dtypes, kinds, strict=True)
             if k in "mM" or isinstance(d, pd.PeriodDtype)]
    if dated:
        raise ValueError(
            f"{where} columns {dated} hold dates or durations, which the boosters cannot split "
            "on; turn them into numbers first (e.g. days since a reference date, or the month)"
        )
    is_float = [k == "f" for k in kinds]
    floats = [c for c, f in zip(X.columns, is_float, strict=True) if f]
    if floats:
        if len(X) <= SMALL_TABLE:  # a few rows: one small copy beats a Series per column
            # (copy=True: without it pandas writes the NaNs into a read-only table's memory)
            values = X.to_numpy(dtype=object, na_value=np.nan, copy=True)
            values = values[:, np.flatnonzero(is_float)]
            inf = np.isinf(values.astype(float)).any(axis=0)
            bad = [c for c, is_inf in zip(floats, inf, strict=True) if is_inf]
        else:
            # Column by column: integers cannot hold infinity, and a float column is checked
            # in place (converting the whole table at once would copy it, at every fit).
            bad = [c for c in floats
                   if np.isinf(X[c].to_numpy(dtype=float, na_value=np.nan)).any()]
        if bad:
            raise ValueError(
                f"{where} columns {bad} hold infinite values; replace them with NaN (missing) "
                "or a finite number"
            )


def _check_unique_columns(columns, what: str) -> None:
    seen, dupes = set(), []
    for c in columns:
        if c in seen and c not in dupes:
            dupes.append(c)
        seen.add(c)
    if dupes:
        raise ValueError(f"{what} has duplicate column names {dupes}; column names must be unique")


def as_frame_X(X, feature_names: list[str] | None = None) -> pd.DataFrame:
    """X as a DataFrame with string column names (arrays get ``x0, x1, ...``)."""
    native = native_frame(X)
    if isinstance(native, pd.Series):
        raise ValueError("X must be 2-D (rows x features), got a series; pass a frame")
    if native is not None:
        X = native
    if isinstance(X, pd.DataFrame):
        _check_unique_columns(list(X.columns), "X")
        non_str = [c for c in X.columns if not isinstance(c, str)]
        if non_str:
            X = X.rename(columns={c: str(c) for c in non_str})
            _check_unique_columns(list(X.columns), "X (column names as text)")
        return X
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-D (rows x features), got an array of shape {arr.shape}")
        names = feature_names or [f"x{i}" for i in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise ValueError(
                f"X has {arr.shape[1]} features, but the model was fitted with {len(names)}"
            )
        return _from_array(arr, names)
    raise TypeError(f"X must be a pandas DataFrame or a 2-D array, got {type(X).__name__}")


def as_frame_Y(Y, n_rows: int, X_index: pd.Index | None = None) -> pd.DataFrame:
    """Y as a DataFrame with one column per task, checked against X's rows."""
    native = native_frame(Y)
    if native is not None:
        Y = native
        if X_index is not None:  # other libraries have no index: rows match by position
            Y.index = X_index
    if isinstance(Y, pd.Series):
        Y = Y.to_frame(name=str(Y.name) if Y.name is not None else "y")
    from_pandas = isinstance(Y, pd.DataFrame)
    if from_pandas:
        _check_unique_columns(list(Y.columns), "Y")
        Y = Y.rename(columns={c: str(c) for c in Y.columns if not isinstance(c, str)})
    elif hasattr(Y, "__array__") or isinstance(Y, (list, tuple)):
        arr = np.asarray(Y)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise ValueError(f"Y must be 1-D or 2-D, got an array of shape {arr.shape}")
        Y = _from_array(arr, [f"task{i}" for i in range(arr.shape[1])])
    else:
        raise TypeError(f"Y must be a pandas DataFrame or an array, got {type(Y).__name__}")
    if len(Y) != n_rows:
        raise ValueError(f"X has {n_rows} rows but Y has {len(Y)}; they must describe the same rows")
    if from_pandas and X_index is not None and not Y.index.equals(X_index):
        raise ValueError(
            "X and Y have different row indexes; align them (e.g. Y = Y.loc[X.index]) "
            "or pass arrays"
        )
    if Y.shape[1] == 0:
        raise ValueError("Y has no columns; give one column per task")
    return Y.reset_index(drop=True)


def check_sample_weight(sample_weight, n_rows: int, task_names: list[str]) -> dict[str, np.ndarray] | None:
    """Per-task weight vectors from ``(n,)``, ``(n, n_tasks)`` or a DataFrame with task columns."""
    if sample_weight is None:
        return None
    n_tasks = len(task_names)
    if isinstance(sample_weight, pd.DataFrame):
        missing = [t for t in task_names if t not in sample_weight.columns]
        if missing:
            raise ValueError(f"sample_weight DataFrame lacks columns for tasks {missing}")
        arr = sample_weight[task_names].to_numpy(dtype=float)
    else:
        arr = np.asarray(sample_weight, dtype=float)
    if arr.ndim == 1:
        if arr.shape[0] != n_rows:
            raise ValueError(
                f"sample_weight has {arr.shape[0]} entries but X has {n_rows} rows; "
                f"expected shape ({n_rows},) or ({n_rows}, {n_tasks})"
            )
        arr = np.repeat(arr[:, None], n_tasks, axis=1)
    elif arr.ndim != 2 or arr.shape != (n_rows, n_tasks):
        raise ValueError(
            f"sample_weight has shape {arr.shape}; expected ({n_rows},) or ({n_rows}, {n_tasks}) "
            f"with columns in task order {task_names}"
        )
    if not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    if (arr > MAX_WEIGHT).any():
        raise ValueError(
            f"sample_weight holds values above {MAX_WEIGHT:.3g}, which the boosters store as "
            "float32 and would turn into infinity; rescale the weights (only their ratios matter)"
        )
    zero = [t for i, t in enumerate(task_names) if arr[:, i].sum() == 0]
    if zero:
        raise ValueError(f"sample_weight is zero on every row for tasks {zero}; nothing to learn")
    return {t: arr[:, i] for i, t in enumerate(task_names)}


def check_labelled_weights(weights: dict[str, np.ndarray] | None, encoded: dict) -> None:
    """Every task needs some weight on the rows where its label is known."""
    if weights is None:
        return
    zero = [t for t, w in weights.items() if w[encoded[t].labelled].sum() == 0]
    if zero:
        raise ValueError(
            f"sample_weight is zero on every labelled row of tasks {zero}; nothing to learn"
        )


def check_groups(groups, n_rows: int) -> np.ndarray | None:
    if groups is None:
        return None
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise ValueError(f"groups must have shape ({n_rows},), got {arr.shape}")
    return arr


def check_predict_columns(X: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    """Check X at predict time has the fitted columns in the fitted order."""
    cols = list(X.columns)
    if cols == feature_names:
        return X
    missing = [c for c in feature_names if c not in cols]
    if missing:
        raise ValueError(f"X is missing columns seen at fit: {missing}")
    extra = [c for c in cols if c not in feature_names]
    if extra:
        raise ValueError(f"X has columns not seen at fit: {extra}")
    raise ValueError(
        "X has the fitted columns in a different order; reorder with "
        "X[model.feature_names_in_]"
    )
