//! A bounds-checked FlatBuffers reader: every offset, vtable and vector is checked against the buffer before it is
//! read, and a failure says which and where.
//!
//! Why not the `flatbuffers` crate's reader: its safe entry point is a verifier over generated code (the TFLite
//! schema's generated Rust is ~20 k lines we would vendor), and its errors do not name the schema field. Reading a
//! field and checking it are one step here; the writer side does use `flatbuffers::FlatBufferBuilder`.

/// A table inside a buffer: its position and its vtable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vt: usize,
    vt_len: usize,
}

pub(crate) type R<T> = std::result::Result<T, String>;

fn rd<const N: usize>(buf: &[u8], at: usize, what: &str) -> R<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| buf.get(at..end))
        .map(|s| s.try_into().expect("N bytes"))
        .ok_or_else(|| {
            format!(
                "{what}: offset {at} out of range (file is {} bytes)",
                buf.len()
            )
        })
}

fn u32_at(buf: &[u8], at: usize, what: &str) -> R<u32> {
    rd::<4>(buf, at, what).map(u32::from_le_bytes)
}

/// The root table of a buffer (the `u32` at offset 0).
pub(crate) fn root(buf: &[u8]) -> R<Table<'_>> {
    let off = u32_at(buf, 0, "root offset")? as usize;
    Table::at(buf, off, "root table")
}

impl<'a> Table<'a> {
    fn at(buf: &'a [u8], pos: usize, what: &str) -> R<Self> {
        let soff = i32::from_le_bytes(rd::<4>(buf, pos, what)?) as i64;
        let vt = pos as i64 - soff;
        if vt < 0 || vt as usize >= buf.len() {
            return Err(format!("{what}: vtable offset {vt} out of range"));
        }
        let vt = vt as usize;
        let vt_len = u16::from_le_bytes(rd::<2>(buf, vt, what)?) as usize;
        if vt_len < 4 || !vt_len.is_multiple_of(2) || vt + vt_len > buf.len() {
            return Err(format!("{what}: malformed vtable at {vt}"));
        }
        Ok(Table {
            buf,
            pos,
            vt,
            vt_len,
        })
    }

    /// The position of field `id` in the buffer, `None` when the field is absent.
    fn field(&self, id: usize) -> Option<usize> {
        let slot = 4 + 2 * id;
        if slot + 2 > self.vt_len {
            return None;
        }
        let off = u16::from_le_bytes([self.buf[self.vt + slot], self.buf[self.vt + slot + 1]]);
        (off != 0).then_some(self.pos + off as usize)
    }

    fn scalar<const N: usize>(&self, id: usize, what: &str) -> R<Option<[u8; N]>> {
        self.field(id)
            .map(|p| rd::<N>(self.buf, p, what))
            .transpose()
    }
    pub fn u8(&self, id: usize, default: u8, what: &str) -> R<u8> {
        Ok(self.scalar::<1>(id, what)?.map_or(default, |b| b[0]))
    }
    pub fn i8(&self, id: usize, default: i8, what: &str) -> R<i8> {
        Ok(self.scalar::<1>(id, what)?.map_or(default, |b| b[0] as i8))
    }
    pub fn i32(&self, id: usize, default: i32, what: &str) -> R<i32> {
        Ok(self
            .scalar::<4>(id, what)?
            .map_or(default, i32::from_le_bytes))
    }
    pub fn u32(&self, id: usize, default: u32, what: &str) -> R<u32> {
        Ok(self
            .scalar::<4>(id, what)?
            .map_or(default, u32::from_le_bytes))
    }
    pub fn u64(&self, id: usize, default: u64, what: &str) -> R<u64> {
        Ok(self
            .scalar::<8>(id, what)?
            .map_or(default, u64::from_le_bytes))
    }
    pub fn bool(&self, id: usize, what: &str) -> R<bool> {
        Ok(self.u8(id, 0, what)? != 0)
    }

    /// Follows an offset field; `None` when absent.
    fn target(&self, id: usize, what: &str) -> R<Option<usize>> {
        let Some(p) = self.field(id) else {
            return Ok(None);
        };
        let rel = u32_at(self.buf, p, what)? as usize;
        let t = p
            .checked_add(rel)
            .filter(|t| *t < self.buf.len())
            .ok_or_else(|| format!("{what}: offset {p}+{rel} out of range"))?;
        Ok(Some(t))
    }

    pub fn table(&self, id: usize, what: &str) -> R<Option<Table<'a>>> {
        self.target(id, what)?
            .map(|t| Table::at(self.buf, t, what))
            .transpose()
    }

    /// A vector field as (element start, length), checked to fit `elem` bytes per element.
    fn vector(&self, id: usize, elem: usize, what: &str) -> R<Option<(usize, usize)>> {
        let Some(t) = self.target(id, what)? else {
            return Ok(None);
        };
        let len = u32_at(self.buf, t, what)? as usize;
        let start = t + 4;
        let end = len
            .checked_mul(elem)
            .and_then(|n| start.checked_add(n))
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| {
                format!("{what}: vector of {len} elements at {t} runs past the end of the file")
            })?;
        let _ = end;
        Ok(Some((start, len)))
    }

    pub fn bytes(&self, id: usize, what: &str) -> R<Option<(usize, usize)>> {
        self.vector(id, 1, what)
    }

    pub fn string(&self, id: usize, what: &str) -> R<Option<String>> {
        Ok(self
            .bytes(id, what)?
            .map(|(s, n)| String::from_utf8_lossy(&self.buf[s..s + n]).into_owned()))
    }

    pub fn i32s(&self, id: usize, what: &str) -> R<Vec<i32>> {
        Ok(match self.vector(id, 4, what)? {
            None => vec![],
            Some((s, n)) => (0..n)
                .map(|i| {
                    i32::from_le_bytes(self.buf[s + 4 * i..s + 4 * i + 4].try_into().expect("4"))
                })
                .collect(),
        })
    }
    pub fn f32s(&self, id: usize, what: &str) -> R<Vec<f32>> {
        Ok(self
            .i32s(id, what)?
            .into_iter()
            .map(|b| f32::from_bits(b as u32))
            .collect())
    }
    pub fn i64s(&self, id: usize, what: &str) -> R<Vec<i64>> {
        Ok(match self.vector(id, 8, what)? {
            None => vec![],
            Some((s, n)) => (0..n)
                .map(|i| {
                    i64::from_le_bytes(self.buf[s + 8 * i..s + 8 * i + 8].try_into().expect("8"))
                })
                .collect(),
        })
    }

    /// A vector of tables.
    pub fn tables(&self, id: usize, what: &str) -> R<Vec<Table<'a>>> {
        let Some((s, n)) = self.vector(id, 4, what)? else {
            return Ok(vec![]);
        };
        (0..n)
            .map(|i| {
                let p = s + 4 * i;
                let w = format!("{what}[{i}]");
                let rel = u32_at(self.buf, p, &w)? as usize;
                let t = p
                    .checked_add(rel)
                    .filter(|t| *t < self.buf.len())
                    .ok_or_else(|| format!("{w}: offset {p}+{rel} out of range"))?;
                Table::at(self.buf, t, &w)
            })
            .collect()
    }
}
