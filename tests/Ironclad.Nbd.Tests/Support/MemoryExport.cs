// An in-memory INbdExport for protocol tests: sparse 4 KiB blocks (allocated or hole), so
// GetAllocation reports real extents; optionally read-only or with slow zeroing. One instance is
// shared by every connection that opens it (the catalog counts opens and disposals, so tests can
// check that the server closes what it opened). Thread-safe: one lock around the block map.
using Ironclad.Nbd.Exports;

namespace Ironclad.Nbd.Tests.Support;

internal sealed class MemoryExport : INbdExport
{
    public const int BlockBytes = 4096;

    private readonly Lock _lock = new();
    private readonly Dictionary<long, byte[]> _blocks = [];
    private int _openCount;
    private int _flushCount;

    public MemoryExport(long sizeBytes, bool isReadOnly = false, bool canMultiConnect = true, bool zeroingIsFast = true)
    {
        SizeBytes = sizeBytes;
        IsReadOnly = isReadOnly;
        CanMultiConnect = canMultiConnect;
        ZeroingIsFast = zeroingIsFast;
    }

    public long SizeBytes { get; }

    public bool IsReadOnly { get; }

    public bool CanMultiConnect { get; }

    public bool ZeroingIsFast { get; }

    /// <summary>Called at the start of every operation with its name, offset and length; tests use it to delay or gate requests.</summary>
    public Action<string, long, long>? BeforeOperation { get; set; }

    /// <summary>Connections that opened this export and have not disposed it yet.</summary>
    public int OpenCount => Volatile.Read(ref _openCount);

    public int FlushCount => Volatile.Read(ref _flushCount);

    public int AllocatedBlocks
    {
        get
        {
            lock (_lock)
            {
                return _blocks.Count;
            }
        }
    }

    /// <summary>The catalog hands out the shared instance; each open is matched by one Dispose.</summary>
    public MemoryExport Open()
    {
        Interlocked.Increment(ref _openCount);
        return this;
    }

    public void Dispose()
    {
        if (Interlocked.Decrement(ref _openCount) < 0)
        {
            throw new InvalidOperationException("The export was disposed more often than it was opened.");
        }
    }

    /// <summary>Test setup: writes bypassing the read-only flag and the hook.</summary>
    public void Fill(long offsetBytes, ReadOnlySpan<byte> source) => WriteCore(offsetBytes, source);

    public byte[] Snapshot(long offsetBytes, int lengthBytes)
    {
        var bytes = new byte[lengthBytes];
        ReadCore(offsetBytes, bytes);
        return bytes;
    }

    public void Read(long offsetBytes, Span<byte> destination)
    {
        BeforeOperation?.Invoke(nameof(Read), offsetBytes, destination.Length);
        CheckRange(offsetBytes, destination.Length);
        ReadCore(offsetBytes, destination);
    }

    public void Write(long offsetBytes, ReadOnlySpan<byte> source, bool fua)
    {
        BeforeOperation?.Invoke(nameof(Write), offsetBytes, source.Length);
        CheckWritable(offsetBytes, source.Length);
        WriteCore(offsetBytes, source);
    }

    public void Flush()
    {
        BeforeOperation?.Invoke(nameof(Flush), 0, 0);
        Interlocked.Increment(ref _flushCount);
    }

    public void Trim(long offsetBytes, long lengthBytes, bool fua)
    {
        BeforeOperation?.Invoke(nameof(Trim), offsetBytes, lengthBytes);
        CheckWritable(offsetBytes, lengthBytes);
        Zero(offsetBytes, lengthBytes, keepAllocated: false);
    }

    public void WriteZeroes(long offsetBytes, long lengthBytes, bool fua, bool noHole)
    {
        BeforeOperation?.Invoke(nameof(WriteZeroes), offsetBytes, lengthBytes);
        CheckWritable(offsetBytes, lengthBytes);
        Zero(offsetBytes, lengthBytes, keepAllocated: noHole);
    }

    public bool IsZeroingFast(bool noHole) => ZeroingIsFast;

    public int GetAllocation(long offsetBytes, long lengthBytes, Span<NbdExtent> extents)
    {
        BeforeOperation?.Invoke(nameof(GetAllocation), offsetBytes, lengthBytes);
        CheckRange(offsetBytes, lengthBytes);
        var end = offsetBytes + lengthBytes;
        var count = 0;
        lock (_lock)
        {
            for (var at = offsetBytes; at < end;)
            {
                var block = at / BlockBytes;
                var next = Math.Min(end, (block + 1) * BlockBytes);
                var state = _blocks.ContainsKey(block) ? 0u : NbdExtent.Hole | NbdExtent.Zero;
                if (count > 0 && extents[count - 1].State == state)
                {
                    extents[count - 1] = extents[count - 1] with { LengthBytes = extents[count - 1].LengthBytes + (next - at) };
                }
                else if (count == extents.Length)
                {
                    break;
                }
                else
                {
                    extents[count++] = new NbdExtent(next - at, state);
                }

                at = next;
            }
        }

        return count;
    }

    private void CheckWritable(long offsetBytes, long lengthBytes)
    {
        if (IsReadOnly)
        {
            throw new NbdExportException(NbdErrno.EPERM, "read-only");
        }

        CheckRange(offsetBytes, lengthBytes);
    }

    private void CheckRange(long offsetBytes, long lengthBytes)
    {
        // The server promises to check ranges before calling; a violation is a server bug, reported as EIO.
        if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes > SizeBytes - lengthBytes)
        {
            throw new InvalidOperationException($"The server passed an out-of-range request: {offsetBytes}+{lengthBytes} on {SizeBytes} bytes.");
        }
    }

    private void ReadCore(long offsetBytes, Span<byte> destination)
    {
        lock (_lock)
        {
            while (!destination.IsEmpty)
            {
                var block = offsetBytes / BlockBytes;
                var within = (int)(offsetBytes % BlockBytes);
                var n = Math.Min(destination.Length, BlockBytes - within);
                if (_blocks.TryGetValue(block, out var data))
                {
                    data.AsSpan(within, n).CopyTo(destination);
                }
                else
                {
                    destination[..n].Clear();
                }

                destination = destination[n..];
                offsetBytes += n;
            }
        }
    }

    private void WriteCore(long offsetBytes, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            while (!source.IsEmpty)
            {
                var block = offsetBytes / BlockBytes;
                var within = (int)(offsetBytes % BlockBytes);
                var n = Math.Min(source.Length, BlockBytes - within);
                if (!_blocks.TryGetValue(block, out var data))
                {
                    data = new byte[BlockBytes];
                    _blocks[block] = data;
                }

                source[..n].CopyTo(data.AsSpan(within));
                source = source[n..];
                offsetBytes += n;
            }
        }
    }

    private void Zero(long offsetBytes, long lengthBytes, bool keepAllocated)
    {
        lock (_lock)
        {
            var end = offsetBytes + lengthBytes;
            for (var at = offsetBytes; at < end;)
            {
                var block = at / BlockBytes;
                var within = (int)(at % BlockBytes);
                var n = (int)Math.Min(end - at, BlockBytes - within);
                if (n == BlockBytes && !keepAllocated)
                {
                    _blocks.Remove(block);
                }
                else if (_blocks.TryGetValue(block, out var data))
                {
                    data.AsSpan(within, n).Clear();
                }
                else if (keepAllocated)
                {
                    _blocks[block] = new byte[BlockBytes];
                }

                at += n;
            }
        }
    }
}
