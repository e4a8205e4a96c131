// The journal's in-memory tail and its current segment. Appends are cheap (a copy into a buffer
// under a short lock) and assign consecutive sequence numbers; the committer takes the buffer and
// makes it durable in one write + fdatasync (group commit).
// Invariant: sequence numbers are assigned in buffer order, so a durable prefix of the buffer is a
// durable prefix of the sequence.
namespace Ironclad.Storage.Journal;

internal sealed class JournalWriter : IDisposable
{
    private const int InitialBufferBytes = 64 * 1024;

    private readonly Lock _appendLock = new();
    private byte[] _pending = new byte[InitialBufferBytes];
    private byte[]? _spare = new byte[InitialBufferBytes];
    private int _pendingLength;
    private ulong _lastSequence;

    public JournalWriter(JournalSegment segment, ulong lastSequence)
    {
        Segment = segment;
        _lastSequence = lastSequence;
    }

    /// <summary>The segment records are written to. Replaced only under the store's commit lock.</summary>
    public JournalSegment Segment { get; private set; }

    public ulong LastSequence
    {
        get
        {
            lock (_appendLock)
            {
                return _lastSequence;
            }
        }
    }

    public int PendingBytes => Volatile.Read(ref _pendingLength);

    public ulong Append(RecordType type, ReadOnlySpan<byte> payload)
    {
        lock (_appendLock)
        {
            var needed = _pendingLength + JournalFrame.HeaderBytes + payload.Length;
            if (needed > _pending.Length)
            {
                Array.Resize(ref _pending, Math.Max(needed, _pending.Length * 2));
            }

            var sequence = ++_lastSequence;
            _pendingLength += JournalFrame.Write(_pending.AsSpan(_pendingLength), sequence, type, payload);
            return sequence;
        }
    }

    /// <summary>Takes every record appended so far. Call only under the commit lock; give the buffer back with ReturnBuffer.</summary>
    public PendingRecords TakePending()
    {
        lock (_appendLock)
        {
            var taken = new PendingRecords(_pending, _pendingLength, _lastSequence);
            _pending = _spare ?? new byte[InitialBufferBytes];
            _spare = null;
            _pendingLength = 0;
            return taken;
        }
    }

    public void ReturnBuffer(PendingRecords records)
    {
        lock (_appendLock)
        {
            if (records.Buffer.Length <= 4 * 1024 * 1024)
            {
                Array.Clear(records.Buffer, 0, records.Length);
                _spare ??= records.Buffer;
            }
        }
    }

    /// <summary>Makes <paramref name="next"/> the segment new commits go to; returns the previous one. Commit lock held.</summary>
    public JournalSegment SwitchSegment(JournalSegment next)
    {
        var previous = Segment;
        Segment = next;
        return previous;
    }

    public void Dispose() => Segment.Dispose();
}

internal readonly record struct PendingRecords(byte[] Buffer, int Length, ulong LastSequence)
{
    public ReadOnlySpan<byte> Bytes => Buffer.AsSpan(0, Length);
}
