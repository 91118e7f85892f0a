using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace KubeBrain.Grains.Storage.Sqlite;

/// <summary>
/// Inserts log rows through two statements prepared once on the write connection: one that inserts
/// <see cref="ChunkRows"/> rows and one that inserts a single row for the remainder. Values are bound by
/// position straight from the rows (blobs as spans, the range id encoded on the stack), so the hot path of
/// group commit allocates nothing per row and skips ADO.NET's per-parameter name lookups.
/// </summary>
internal sealed class SqliteRowInserter : IDisposable
{
    /// <summary>Rows per multi-row statement; 32 × 11 parameters stays far below SQLite's variable limit.</summary>
    private const int ChunkRows = 32;

    private const int ColumnCount = 11;

    /// <summary>Range ids up to this many UTF-8 bytes are encoded on the stack.</summary>
    private const int StackRangeIdBytes = 256;

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _chunk;
    private readonly sqlite3_stmt _single;

    public SqliteRowInserter(SqliteConnection connection)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The write connection is not open.");
        _chunk = Prepare(ChunkRows);
        try
        {
            _single = Prepare(1);
        }
        catch
        {
            _chunk.Dispose();
            throw;
        }
    }

    /// <summary>Inserts <paramref name="rows"/> inside the connection's current transaction.</summary>
    public void Insert(IReadOnlyList<StoredRow> rows)
    {
        var next = 0;
        for (; next + ChunkRows <= rows.Count; next += ChunkRows)
        {
            for (var i = 0; i < ChunkRows; i++)
            {
                BindRow(_chunk, i * ColumnCount, rows[next + i]);
            }
            Execute(_chunk);
        }
        for (; next < rows.Count; next++)
        {
            BindRow(_single, 0, rows[next]);
            Execute(_single);
        }
    }

    public void Dispose()
    {
        _chunk.Dispose();
        _single.Dispose();
    }

    private sqlite3_stmt Prepare(int rowCount)
    {
        var sql = new StringBuilder(
            "INSERT INTO kv_log (revision, sub, key, create_revision, version, lease, value, tombstone, prev_revision, range_id, range_epoch) VALUES ");
        for (var row = 0; row < rowCount; row++)
        {
            sql.Append(row == 0 ? "(" : ",(");
            for (var column = 0; column < ColumnCount; column++)
            {
                sql.Append(column == 0 ? "?" : ",?");
            }
            sql.Append(')');
        }
        var rc = raw.sqlite3_prepare_v3(_db, sql.ToString(), raw.SQLITE_PREPARE_PERSISTENT, out var statement);
        if (rc != raw.SQLITE_OK)
        {
            var exception = Failure(rc);
            statement.Dispose();
            throw exception;
        }
        return statement;
    }

    /// <summary>Binds one row to the parameters after <paramref name="offset"/> (SQLite numbers them from 1).</summary>
    private void BindRow(sqlite3_stmt statement, int offset, StoredRow row)
    {
        Check(raw.sqlite3_bind_int64(statement, offset + 1, row.Revision));
        Check(raw.sqlite3_bind_int64(statement, offset + 2, row.Sub));
        BindBytes(statement, offset + 3, row.Key);
        Check(raw.sqlite3_bind_int64(statement, offset + 4, row.CreateRevision));
        Check(raw.sqlite3_bind_int64(statement, offset + 5, row.Version));
        Check(raw.sqlite3_bind_int64(statement, offset + 6, row.Lease));
        BindBytes(statement, offset + 7, row.Value);
        Check(raw.sqlite3_bind_int64(statement, offset + 8, row.Tombstone ? 1 : 0));
        Check(raw.sqlite3_bind_int64(statement, offset + 9, row.PrevRevision));
        BindText(statement, offset + 10, row.RangeId);
        Check(raw.sqlite3_bind_int64(statement, offset + 11, row.RangeEpoch));
    }

    /// <summary>
    /// Binds bytes as a BLOB. An empty span would reach SQLite as a null pointer, which binds NULL, so an empty
    /// array is bound as a zero-length blob instead.
    /// </summary>
    private void BindBytes(sqlite3_stmt statement, int index, byte[] bytes) =>
        Check(bytes.Length == 0
            ? raw.sqlite3_bind_zeroblob(statement, index, 0)
            : raw.sqlite3_bind_blob(statement, index, bytes));

    private void BindText(sqlite3_stmt statement, int index, string text)
    {
        if (text.Length == 0)
        {
            Check(raw.sqlite3_bind_text(statement, index, string.Empty));
            return;
        }
        var byteCount = Encoding.UTF8.GetByteCount(text);
        var utf8 = byteCount <= StackRangeIdBytes ? stackalloc byte[StackRangeIdBytes] : new byte[byteCount];
        var written = Encoding.UTF8.GetBytes(text, utf8);
        Check(raw.sqlite3_bind_text(statement, index, utf8[..written]));
    }

    private void Execute(sqlite3_stmt statement)
    {
        var rc = raw.sqlite3_step(statement);
        if (rc == raw.SQLITE_DONE)
        {
            Check(raw.sqlite3_reset(statement));
            return;
        }
        var exception = Failure(rc);
        raw.sqlite3_reset(statement);
        throw exception;
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            throw Failure(rc);
        }
    }

    private SqliteException Failure(int rc) =>
        new(raw.sqlite3_errmsg(_db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(_db));
}
