// The Key Vault audit log: DIR/keyvault/audit.log (0600, directory 0700), append-only JSON lines in a
// SHA-256 hash chain (AuditLogFormat). Invariants: appends are serialised and each is in the OS (write(2)
// returned) before Append returns, so a process crash loses nothing acknowledged; a background flusher
// fsyncs at most FlushInterval later (group commit), then advances the anchor in the metadata database.
// Once a write or fsync fails, every later Append throws: the vault fails closed rather than unaudited.
using Ironclad.Metadata;
using Microsoft.Win32.SafeHandles;

namespace Ironclad.KeyVault.Audit;

public sealed class FileAuditLog : IKeyVaultAudit, IDisposable
{
    public const string FileName = "audit.log";

    /// <summary>The operation of the record written on open after a torn final line was cut off.</summary>
    public const string RepairOperation = "AuditLogRepaired";

    public const string RepairResult = "TornRecordDiscarded";

    /// <summary>At most this long between an acknowledged append and its fsync (plus the fsync itself).</summary>
    public static readonly TimeSpan DefaultFlushInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>A record is far smaller; a final line longer than this is refused on open as not ours.</summary>
    private const int TailWindowBytes = 1 << 20;

    /// <summary>The first records-sized chunk read when seeking a sequence number (List paging).</summary>
    private const int SeekLinearBytes = 64 * 1024;

    private readonly Lock _lock = new();
    private readonly SafeFileHandle _handle;
    private readonly TimeProvider _time;
    private readonly AuditAnchor? _anchor;
    private readonly TimeSpan _flushInterval;
    private readonly Thread _flusher;
    private readonly ManualResetEventSlim _dirty = new(false);
    private readonly ManualResetEventSlim _stopping = new(false);

    // Guarded by _lock.
    private long _lengthBytes;
    private long _sequence;
    private string _headHash = AuditLogFormat.GenesisHash;
    private Exception? _fault;
    private bool _disposed;

    private long _durableSequence;

    /// <param name="directory">DIR/keyvault; created 0700 if missing.</param>
    /// <param name="anchorDatabase">Where the chain head is anchored (null: no anchor, truncation at the end goes unnoticed).</param>
    public FileAuditLog(string directory, TimeProvider time, MetadataDatabase? anchorDatabase = null, TimeSpan? flushInterval = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _flushInterval = flushInterval ?? DefaultFlushInterval;
        _anchor = anchorDatabase is null ? null : new AuditAnchor(anchorDatabase);

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        FilePath = Path.Combine(directory, FileName);
        _handle = OpenOwnerOnly(FilePath);
        long discardedBytes;
        try
        {
            discardedBytes = RecoverTail();
        }
        catch
        {
            _handle.Dispose();
            throw;
        }

        _durableSequence = _sequence;
        _flusher = new Thread(FlushLoop) { IsBackground = true, Name = "audit-log-flusher" };
        _flusher.Start();

        if (discardedBytes > 0)
        {
            // The crash that tore the line happened before its fsync: the caller of that append was
            // never answered after durability, but may have been answered. Say so in the chain itself.
            Append(new AuditEntry(null, null, null, string.Empty, RepairOperation, null, null, 0, RepairResult, null));
            Flush();
        }
    }

    public string FilePath { get; }

    /// <summary>The last sequence number known to be fsynced.</summary>
    public long DurableSequence => Volatile.Read(ref _durableSequence);

    public AuditRecord Append(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        AuditRecord record;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_fault is { } fault)
            {
                throw new IOException("The audit log cannot be written; vault calls fail until the server restarts.", fault);
            }

            var sequence = _sequence + 1;
            var time = AuditLogFormat.TruncateToMilliseconds(_time.GetUtcNow());
            var canonical = AuditLogFormat.Canonical(sequence, time, entry, _headHash);
            var hash = AuditLogFormat.ComputeHash(_headHash, canonical);
            var line = AuditLogFormat.Line(canonical, hash);
            try
            {
                RandomAccess.Write(_handle, line, _lengthBytes);
            }
            catch (IOException e)
            {
                // A partial write may sit past _lengthBytes: cut it, or refuse all later appends.
                try
                {
                    RandomAccess.SetLength(_handle, _lengthBytes);
                }
                catch (IOException cut)
                {
                    _fault = cut;
                }

                throw new IOException("The audit record could not be written.", e);
            }

            record = new AuditRecord(sequence, time, entry, _headHash, hash);
            _lengthBytes += line.Length;
            _sequence = sequence;
            _headHash = hash;
        }

        _dirty.Set();
        return record;
    }

    /// <summary>Fsyncs now (and advances the anchor): for shutdown and for callers that must not wait for the flusher.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
        }

        FlushOnce();
        if (Volatile.Read(ref _fault) is { } fault)
        {
            throw new IOException("The audit log could not be flushed.", fault);
        }
    }

    public IReadOnlyList<AuditRecord> List(AuditQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(query.MaxResults);
        var results = new List<AuditRecord>();
        if (query.MaxResults == 0)
        {
            return results;
        }

        var lengthBytes = CommittedLength();
        using var stream = OpenForReading();
        var start = query.After > 0 ? SeekBefore(stream, lengthBytes, query.After) : 0;
        foreach (var (line, complete) in ReadLines(stream, start, lengthBytes))
        {
            if (!complete || AuditLogFormat.TryParse(line, out _, out _) is not { } record)
            {
                continue;   // List shows what it can read; Verify is where damage is reported.
            }

            if (record.Sequence <= query.After
                || (query.Vault is { } vault && !string.Equals(record.Entry.Vault, vault, StringComparison.OrdinalIgnoreCase))
                || (query.Since is { } since && record.Time < since)
                || (query.Until is { } until && record.Time >= until))
            {
                continue;
            }

            results.Add(record);
            if (results.Count >= query.MaxResults)
            {
                break;
            }
        }

        return results;
    }

    public AuditVerification Verify()
    {
        // Anchor first, length second: every record the anchor names was written before it, so it is
        // inside the length read afterwards.
        var anchor = _anchor?.Read();
        var lengthBytes = CommittedLength();
        using var stream = OpenForReading();
        var expectedSequence = 1L;
        var expectedPrevious = AuditLogFormat.GenesisHash;
        using var lines = ReadLines(stream, 0, lengthBytes).GetEnumerator();
        while (lines.MoveNext())
        {
            var (line, complete) = lines.Current;
            if (!complete)
            {
                return Broken(expectedSequence, $"record {expectedSequence} is cut short (the file ends inside it)");
            }

            var record = AuditLogFormat.TryParse(line, out var hashValid, out var problem);
            if (record is null)
            {
                return Broken(expectedSequence, $"record {expectedSequence} cannot be read: {problem}");
            }

            if (record.Sequence < expectedSequence)
            {
                return Broken(expectedSequence, $"record {record.Sequence} appears where {expectedSequence} belongs (reordered or duplicated)");
            }

            if (record.Sequence > expectedSequence)
            {
                // Missing here: moved further down (reordered), or gone.
                return Broken(expectedSequence, AppearsLater(lines, expectedSequence)
                    ? $"record {record.Sequence} appears where {expectedSequence} belongs, which comes later (reordered)"
                    : expectedSequence == 1
                        ? $"the chain does not start at 1 but at {record.Sequence}: its head was removed"
                        : $"records {expectedSequence}..{record.Sequence - 1} are missing");
            }

            if (!string.Equals(record.PreviousHash, expectedPrevious, StringComparison.Ordinal))
            {
                return Broken(expectedSequence, expectedSequence == 1
                    ? "record 1 does not start from the genesis hash"
                    : $"record {expectedSequence}'s previousHash is not record {expectedSequence - 1}'s hash");
            }

            if (!hashValid)
            {
                return Broken(expectedSequence, $"record {expectedSequence} was altered: {problem}");
            }

            if (anchor is { } head && head.Sequence == record.Sequence && !string.Equals(head.Hash, record.Hash, StringComparison.Ordinal))
            {
                return Broken(expectedSequence, $"record {expectedSequence} is not the one anchored in the metadata database (the chain was rewritten)");
            }

            expectedPrevious = record.Hash;
            expectedSequence++;
        }

        var records = expectedSequence - 1;
        if (anchor is { } anchored && anchored.Sequence > records)
        {
            return Broken(expectedSequence, $"records {expectedSequence}..{anchored.Sequence} are missing: the metadata database anchors the chain head at {anchored.Sequence}");
        }

        return new AuditVerification(true, records, null, null);

        AuditVerification Broken(long sequence, string why) => new(false, expectedSequence - 1, sequence, why);
    }

    private static bool AppearsLater(IEnumerator<(byte[] Line, bool Complete)> lines, long sequence)
    {
        while (lines.MoveNext())
        {
            if (lines.Current.Complete && AuditLogFormat.TryParse(lines.Current.Line, out _, out _)?.Sequence == sequence)
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _stopping.Set();
        _dirty.Set();
        _flusher.Join();
        FlushOnce();
        _handle.Dispose();
        _dirty.Dispose();
        _stopping.Dispose();
    }

    private static SafeFileHandle OpenOwnerOnly(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        }

        try
        {
            using var created = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException) when (File.Exists(path))
        {
            // Exists already: opened below, its mode corrected.
        }

        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        File.SetUnixFileMode(handle, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return handle;
    }

    /// <summary>Finds the chain head at the end of the file; cuts a torn final line. Returns the bytes cut.</summary>
    private long RecoverTail()
    {
        var lengthBytes = RandomAccess.GetLength(_handle);
        if (lengthBytes == 0)
        {
            return 0;
        }

        var window = (int)Math.Min(lengthBytes, TailWindowBytes);
        var buffer = new byte[window];
        ReadExactly(buffer, lengthBytes - window);
        var span = buffer.AsSpan();
        var discarded = 0L;
        if (span[^1] != (byte)'\n')
        {
            var lastNewline = span.LastIndexOf((byte)'\n');
            if (lastNewline < 0 && window < lengthBytes)
            {
                throw new InvalidDataException($"{FilePath}: its last line is longer than {TailWindowBytes} bytes; this is not an audit log.");
            }

            var tail = span[(lastNewline + 1)..];
            if (AuditLogFormat.IsCompleteJson(tail))
            {
                // A whole record whose '\n' did not make it: restore the newline, keep the record.
                RandomAccess.Write(_handle, "\n"u8, lengthBytes);
                lengthBytes++;
                span = buffer.Append((byte)'\n').ToArray();
            }
            else
            {
                // Torn by a crash mid-write (never fsynced, never anchored): cut it off.
                discarded = tail.Length;
                lengthBytes -= tail.Length;
                RandomAccess.SetLength(_handle, lengthBytes);
                RandomAccess.FlushToDisk(_handle);
                span = span[..(lastNewline + 1)];
            }
        }

        _lengthBytes = lengthBytes;
        if (span.IsEmpty)
        {
            return discarded;
        }

        var body = span[..^1];
        var lastLine = body[(body.LastIndexOf((byte)'\n') + 1)..];
        if (AuditLogFormat.TryParse(lastLine, out _, out var problem) is not { } last)
        {
            throw new InvalidDataException(
                $"{FilePath}: its last record cannot be read ({problem}); restore the file or move it aside, then start again.");
        }

        // Continue from what the file says even if that record was tampered with: Verify reports it.
        _sequence = last.Sequence;
        _headHash = last.Hash;
        return discarded;
    }

    private void ReadExactly(Span<byte> buffer, long offset)
    {
        while (!buffer.IsEmpty)
        {
            var read = RandomAccess.Read(_handle, buffer, offset);
            if (read == 0)
            {
                throw new EndOfStreamException($"{FilePath} shrank while it was read.");
            }

            buffer = buffer[read..];
            offset += read;
        }
    }

    private void FlushLoop()
    {
        while (true)
        {
            _dirty.Wait();
            _dirty.Reset();
            if (_stopping.IsSet)
            {
                return;   // Dispose flushes once more after Join.
            }

            FlushOnce();
            // Group commit: appends arriving during the pause share the next fsync.
            _stopping.Wait(_flushInterval);
        }
    }

    private void FlushOnce()
    {
        long sequence;
        string hash;
        lock (_lock)
        {
            sequence = _sequence;
            hash = _headHash;
        }

        if (sequence <= Volatile.Read(ref _durableSequence) || Volatile.Read(ref _fault) is not null)
        {
            return;
        }

        try
        {
            RandomAccess.FlushToDisk(_handle);
        }
        catch (IOException e)
        {
            lock (_lock)
            {
                _fault ??= e;
            }

            return;
        }

        Volatile.Write(ref _durableSequence, sequence);
        try
        {
            _anchor?.Advance(sequence, hash);
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            // The anchor lags (the metadata database is busy or failing); the next flush moves it.
        }
    }

    private long CommittedLength()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _lengthBytes;
        }
    }

    private FileStream OpenForReading() =>
        new(FilePath, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.SequentialScan);

    /// <summary>An offset at or before the first line whose sequence is above <paramref name="after"/> (binary search over line starts).</summary>
    private static long SeekBefore(FileStream stream, long lengthBytes, long after)
    {
        long low = 0, high = lengthBytes;
        while (high - low > SeekLinearBytes)
        {
            var middle = low + ((high - low) / 2);
            var lineStart = NextLineStart(stream, middle, high);
            if (lineStart < 0)
            {
                high = middle;
                continue;
            }

            var line = ReadLines(stream, lineStart, lengthBytes).FirstOrDefault();
            if (line.Line is null || !line.Complete
                || AuditLogFormat.TryParse(line.Line, out _, out _) is not { } record
                || record.Sequence > after)
            {
                high = middle;
            }
            else
            {
                low = lineStart;
            }
        }

        return low;
    }

    private static long NextLineStart(FileStream stream, long offset, long limit)
    {
        stream.Position = offset;
        for (var position = offset; position < limit; position++)
        {
            var value = stream.ReadByte();
            if (value < 0)
            {
                return -1;
            }

            if (value == '\n')
            {
                return position + 1 < limit ? position + 1 : -1;
            }
        }

        return -1;
    }

    /// <summary>The lines between two offsets, without '\n'; the last is incomplete when the range ends inside it.</summary>
    private static IEnumerable<(byte[] Line, bool Complete)> ReadLines(FileStream stream, long start, long end)
    {
        stream.Position = start;
        var remaining = end - start;
        var buffer = new byte[64 * 1024];
        var pending = new MemoryStream();
        while (remaining > 0)
        {
            var read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
            if (read == 0)
            {
                break;   // The file is shorter than we wrote: someone cut it; the caller sees the end.
            }

            remaining -= read;
            var chunk = buffer.AsMemory(0, read);
            while (!chunk.IsEmpty)
            {
                var newline = chunk.Span.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    pending.Write(chunk.Span);
                    break;
                }

                pending.Write(chunk.Span[..newline]);
                yield return (pending.ToArray(), true);
                pending.SetLength(0);
                chunk = chunk[(newline + 1)..];
            }
        }

        if (pending.Length > 0)
        {
            yield return (pending.ToArray(), false);
        }
    }
}
