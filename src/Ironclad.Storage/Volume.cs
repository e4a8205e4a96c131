// An open volume or snapshot: the data path. Requests are split at 64 KiB cluster boundaries; each
// cluster is handled under its stripe lock (serializing read-modify-write and copy-on-write of one
// cluster) and the volume's shared I/O lock (so snapshot, trim and resize see no request half done).
// Invariants: only ciphertext reaches the cluster files (XTS-AES-256, tweak = unit index in the
// virtual disk); a cluster that may be shared is never written in place; a map entry is changed only
// after the data it points to was written.
using Ironclad.Crypto.Xts;
using Ironclad.Storage.Clusters;
using Ironclad.Storage.Format;
using Ironclad.Storage.Map;
using Ironclad.Storage.Volumes;

namespace Ironclad.Storage;

[Flags]
public enum WriteOptions
{
    None = 0,

    /// <summary>Force unit access: the write is durable when the call returns.</summary>
    Fua = 1,
}

[Flags]
public enum ZeroOptions
{
    None = 0,

    /// <summary>Durable when the call returns.</summary>
    Fua = 1,

    /// <summary>Keep the range allocated (write encrypted zeros) instead of unmapping it.</summary>
    NoHole = 2,
}

public sealed class Volume : IDisposable
{
    private const int UnitSize = Layout.UnitSizeBytes;
    private const int ClusterSize = Layout.ClusterSizeBytes;
    private static readonly byte[] ZeroCluster = new byte[ClusterSize];

    private readonly VolumeStore _store;
    private readonly VolumeRecord _record;
    private readonly IDataUnitCipher _cipher;
    private readonly bool _ownsCipher;
    private int _disposed;

    internal Volume(VolumeStore store, VolumeRecord record, IDataUnitCipher cipher, bool ownsCipher)
    {
        _store = store;
        _record = record;
        _cipher = cipher;
        _ownsCipher = ownsCipher;
    }

    public Guid Id => _record.Id;

    public VolumeKind Kind => _record.Kind;

    public bool IsReadOnly => _record.IsReadOnly;

    public long SizeBytes => _record.SizeBytes;

    public void Read(long offsetBytes, Span<byte> destination)
    {
        CheckRange(offsetBytes, destination.Length);
        EnterShared();
        try
        {
            while (!destination.IsEmpty)
            {
                var inCluster = (int)(offsetBytes & (ClusterSize - 1));
                var n = Math.Min(destination.Length, ClusterSize - inCluster);
                ReadInCluster(VirtualCluster(offsetBytes), inCluster, destination[..n]);
                destination = destination[n..];
                offsetBytes += n;
            }
        }
        finally
        {
            _record.IoLock.ExitReadLock();
        }
    }

    public void Write(long offsetBytes, ReadOnlySpan<byte> source, WriteOptions options = WriteOptions.None)
    {
        CheckWritable();
        CheckRange(offsetBytes, source.Length);
        EnterShared();
        try
        {
            WriteRange(offsetBytes, source);
        }
        finally
        {
            _record.IoLock.ExitReadLock();
        }

        if ((options & WriteOptions.Fua) != 0)
        {
            _store.Flush();
        }
    }

    public void Flush()
    {
        ThrowIfDisposed();
        _store.Flush();
    }

    /// <summary>Discards a range: whole 4 KiB units in it read as zeros afterwards and whole clusters are freed. Partial units keep their data.</summary>
    public void Trim(long offsetBytes, long lengthBytes, WriteOptions options = WriteOptions.None) =>
        Discard(offsetBytes, lengthBytes, zeroPartialUnits: false, (options & WriteOptions.Fua) != 0);

    /// <summary>Makes a range read as zeros, unmapping it unless <see cref="ZeroOptions.NoHole"/> is given.</summary>
    public void WriteZeroes(long offsetBytes, long lengthBytes, ZeroOptions options = ZeroOptions.None)
    {
        if ((options & ZeroOptions.NoHole) == 0)
        {
            Discard(offsetBytes, lengthBytes, zeroPartialUnits: true, (options & ZeroOptions.Fua) != 0);
            return;
        }

        CheckWritable();
        CheckRange(offsetBytes, lengthBytes);
        EnterShared();
        try
        {
            while (lengthBytes > 0)
            {
                var n = (int)Math.Min(lengthBytes, ClusterSize - (offsetBytes & (ClusterSize - 1)));
                WriteRange(offsetBytes, ZeroCluster.AsSpan(0, n));
                offsetBytes += n;
                lengthBytes -= n;
            }
        }
        finally
        {
            _record.IoLock.ExitReadLock();
        }

        if ((options & ZeroOptions.Fua) != 0)
        {
            _store.Flush();
        }
    }

    /// <summary>Ranges (merged, 4 KiB granular, clipped to the query) that hold data; everything else reads as zeros.</summary>
    public IReadOnlyList<AllocatedRange> GetAllocatedRanges(long offsetBytes, long lengthBytes, int maxRanges = int.MaxValue)
    {
        CheckRange(offsetBytes, lengthBytes);
        var ranges = new List<AllocatedRange>();
        if (lengthBytes == 0)
        {
            return ranges;
        }

        EnterShared();
        try
        {
            var end = offsetBytes + lengthBytes;
            var first = VirtualCluster(offsetBytes);
            var last = VirtualCluster(end - 1);
            var collector = new RangeCollector(ranges, offsetBytes, end, maxRanges);
            lock (_record.MapLock)
            {
                ClusterMap.ForEach(_record.Root, first, (ulong)last - first + 1, ref collector);
            }

            collector.Finish();
        }
        finally
        {
            _record.IoLock.ExitReadLock();
        }

        return ranges;
    }

    private void WriteRange(long offsetBytes, ReadOnlySpan<byte> source)
    {
        while (!source.IsEmpty)
        {
            var inCluster = (int)(offsetBytes & (ClusterSize - 1));
            var n = Math.Min(source.Length, ClusterSize - inCluster);
            WriteInCluster(VirtualCluster(offsetBytes), inCluster, source[..n]);
            source = source[n..];
            offsetBytes += n;
        }
    }

    private void ReadInCluster(uint virtualCluster, int inCluster, Span<byte> destination)
    {
        var endByte = inCluster + destination.Length;
        var firstUnit = inCluster / UnitSize;
        var lastUnit = (endByte - 1) / UnitSize;
        ScratchBuffer? scratch = null;
        lock (_store.StripeFor(_record, virtualCluster))
        {
            MapEntry entry;
            lock (_record.MapLock)
            {
                entry = ClusterMap.Get(_record.Root, virtualCluster);
            }

            try
            {
                var unit = firstUnit;
                while (unit <= lastUnit)
                {
                    var valid = IsSet(entry.ValidUnits, unit);
                    var runEnd = unit + 1;
                    while (runEnd <= lastUnit && IsSet(entry.ValidUnits, runEnd) == valid)
                    {
                        runEnd++;
                    }

                    var startByte = Math.Max(unit * UnitSize, inCluster);
                    var stopByte = Math.Min(runEnd * UnitSize, endByte);
                    var slice = destination.Slice(startByte - inCluster, stopByte - startByte);
                    if (valid)
                    {
                        ReadValidBytes(entry.PhysicalCluster, virtualCluster, startByte, stopByte, slice, ref scratch);
                    }
                    else
                    {
                        slice.Clear();
                    }

                    unit = runEnd;
                }
            }
            finally
            {
                scratch?.Return();
            }
        }
    }

    /// <summary>Reads and decrypts bytes [startByte, stopByte) of a cluster whose units there are all valid.</summary>
    private void ReadValidBytes(ulong physicalCluster, uint virtualCluster, int startByte, int stopByte, Span<byte> destination, ref ScratchBuffer? scratch)
    {
        var fullFirst = (startByte + UnitSize - 1) / UnitSize;
        var fullEnd = stopByte / UnitSize;
        if (fullFirst < fullEnd)
        {
            var span = destination.Slice((fullFirst * UnitSize) - startByte, (fullEnd - fullFirst) * UnitSize);
            _store.DataFiles.ReadUnits(physicalCluster, fullFirst, span);
            _cipher.Decrypt(span, span, Tweak(virtualCluster, fullFirst));
        }

        var headUnit = startByte / UnitSize;
        var headPartial = startByte % UnitSize != 0;
        if (headPartial)
        {
            ReadPartialUnit(physicalCluster, virtualCluster, headUnit, startByte, Math.Min(stopByte, (headUnit + 1) * UnitSize), destination, startByte, ref scratch);
        }

        var tailUnit = (stopByte - 1) / UnitSize;
        if (stopByte % UnitSize != 0 && !(headPartial && tailUnit == headUnit))
        {
            ReadPartialUnit(physicalCluster, virtualCluster, tailUnit, Math.Max(startByte, tailUnit * UnitSize), stopByte, destination, startByte, ref scratch);
        }
    }

    private void ReadPartialUnit(ulong physicalCluster, uint virtualCluster, int unit, int fromByte, int toByte, Span<byte> destination, int destinationStartByte, ref ScratchBuffer? scratch)
    {
        scratch ??= ScratchBuffer.Rent();
        var unitSpan = scratch.Units(unit, 1);
        _store.DataFiles.ReadUnits(physicalCluster, unit, unitSpan);
        _cipher.Decrypt(unitSpan, unitSpan, Tweak(virtualCluster, unit));
        unitSpan.Slice(fromByte - (unit * UnitSize), toByte - fromByte).CopyTo(destination[(fromByte - destinationStartByte)..]);
        unitSpan.Clear(); // plaintext never outlives the request in a pooled buffer
    }

    private void WriteInCluster(uint virtualCluster, int inCluster, ReadOnlySpan<byte> source)
    {
        var endByte = inCluster + source.Length;
        var firstUnit = inCluster / UnitSize;
        var lastUnit = (endByte - 1) / UnitSize;
        var touched = UnitMask(firstUnit, lastUnit + 1);
        var fullFirst = (inCluster + UnitSize - 1) / UnitSize;
        var fullEnd = endByte / UnitSize;
        var full = fullFirst < fullEnd ? UnitMask(fullFirst, fullEnd) : (ushort)0;
        var partial = (ushort)(touched & ~full);

        lock (_store.StripeFor(_record, virtualCluster))
        {
            MapEntry entry;
            lock (_record.MapLock)
            {
                entry = ClusterMap.Get(_record.Root, virtualCluster);
            }

            var exclusive = entry.IsAllocated && entry.Birth > _record.SharedBefore;
            var target = exclusive ? entry.PhysicalCluster : _store.AllocateCluster();
            var birth = exclusive ? entry.Birth : _store.CurrentBirth;
            var carried = exclusive ? (ushort)0 : (ushort)(entry.ValidUnits & ~full);
            var readMask = (ushort)(carried | (partial & entry.ValidUnits));
            var scratch = ScratchBuffer.Rent();
            var completed = false;
            try
            {
                for (var run = 0; NextRun(readMask, ref run, out var first, out var count);)
                {
                    _store.DataFiles.ReadUnits(entry.PhysicalCluster, first, scratch.Units(first, count));
                }

                for (var unit = firstUnit; unit <= lastUnit; unit++)
                {
                    if (!IsSet(partial, unit))
                    {
                        continue;
                    }

                    var unitSpan = scratch.Units(unit, 1);
                    if (IsSet(entry.ValidUnits, unit))
                    {
                        _cipher.Decrypt(unitSpan, unitSpan, Tweak(virtualCluster, unit));
                    }
                    else
                    {
                        unitSpan.Clear();
                    }

                    var from = Math.Max(inCluster, unit * UnitSize);
                    var to = Math.Min(endByte, (unit + 1) * UnitSize);
                    source.Slice(from - inCluster, to - from).CopyTo(unitSpan[(from - (unit * UnitSize))..]);
                    _cipher.Encrypt(unitSpan, unitSpan, Tweak(virtualCluster, unit));
                }

                if (full != 0)
                {
                    _cipher.Encrypt(
                        source.Slice((fullFirst * UnitSize) - inCluster, (fullEnd - fullFirst) * UnitSize),
                        scratch.Units(fullFirst, fullEnd - fullFirst),
                        Tweak(virtualCluster, fullFirst));
                }

                var writeMask = exclusive ? touched : (ushort)(carried | touched);
                for (var run = 0; NextRun(writeMask, ref run, out var first, out var count);)
                {
                    _store.DataFiles.WriteUnits(target, first, scratch.Units(first, count));
                }

                completed = true;
            }
            finally
            {
                if (!completed)
                {
                    scratch.Span.Clear();
                    if (!exclusive)
                    {
                        _store.PublishCluster(target); // abandoned: unreferenced, so the collector frees it
                    }
                }

                scratch.Return();
            }

            _store.NoteDataWritten();
            var updated = MapEntry.Create(target, (ushort)(entry.ValidUnits | touched), birth);
            if (updated != entry)
            {
                lock (_record.MapLock)
                {
                    _ = _store.SetEntry(_record, virtualCluster, updated);
                }
            }

            if (!exclusive)
            {
                _store.PublishCluster(target);
            }

            if (!exclusive && entry.IsAllocated)
            {
                _store.NoteGarbageHint();
            }
        }
    }

    private void Discard(long offsetBytes, long lengthBytes, bool zeroPartialUnits, bool fua)
    {
        CheckWritable();
        CheckRange(offsetBytes, lengthBytes);
        if (lengthBytes == 0)
        {
            return;
        }

        _record.IoLock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            _store.ThrowIfUnusable();
            var end = offsetBytes + lengthBytes;
            var firstWhole = (offsetBytes + ClusterSize - 1) / ClusterSize;
            var endWhole = end / ClusterSize;
            if (firstWhole < endWhole)
            {
                var collector = new FreedClusters(_record.SharedBefore);
                ulong sequence;
                lock (_record.MapLock)
                {
                    sequence = _store.ClearRange(_record, (uint)firstWhole, (uint)(endWhole - firstWhole), ref collector);
                }

                collector.Release(_store, sequence);
                DiscardInCluster(offsetBytes, Math.Min(end, firstWhole * ClusterSize), zeroPartialUnits);
                DiscardInCluster(Math.Max(offsetBytes, endWhole * ClusterSize), end, zeroPartialUnits);
            }
            else
            {
                // The range lies within one cluster or straddles one boundary.
                var boundary = Math.Min(end, ((offsetBytes / ClusterSize) + 1) * ClusterSize);
                DiscardInCluster(offsetBytes, boundary, zeroPartialUnits);
                DiscardInCluster(boundary, end, zeroPartialUnits);
            }
        }
        finally
        {
            _record.IoLock.ExitWriteLock();
        }

        if (fua)
        {
            _store.Flush();
        }
    }

    /// <summary>Discards [start, end) lying within one cluster. Caller holds the I/O lock exclusively.</summary>
    private void DiscardInCluster(long start, long end, bool zeroPartialUnits)
    {
        if (start >= end)
        {
            return;
        }

        var virtualCluster = VirtualCluster(start);
        var clusterBase = (long)virtualCluster * ClusterSize;
        var from = (int)(start - clusterBase);
        var to = (int)(end - clusterBase);
        var fullFirst = (from + UnitSize - 1) / UnitSize;
        var fullEnd = to / UnitSize;
        var full = fullFirst < fullEnd ? UnitMask(fullFirst, fullEnd) : (ushort)0;

        MapEntry entry;
        lock (_record.MapLock)
        {
            entry = ClusterMap.Get(_record.Root, virtualCluster);
            if ((entry.ValidUnits & full) != 0)
            {
                var remaining = (ushort)(entry.ValidUnits & ~full);
                var sequence = _store.SetEntry(_record, virtualCluster, entry.WithValidUnits(remaining));
                if (remaining == 0)
                {
                    if (entry.Birth > _record.SharedBefore)
                    {
                        _store.FreeClusterAfter(entry.PhysicalCluster, sequence);
                    }
                    else
                    {
                        _store.NoteGarbageHint();
                    }
                }

                entry = entry.WithValidUnits(remaining);
            }
        }

        if (!zeroPartialUnits)
        {
            return;
        }

        // Partially covered units keep their other bytes: zero just the covered bytes, if they hold data.
        var headUnit = from / UnitSize;
        if (from % UnitSize != 0 && IsSet(entry.ValidUnits, headUnit))
        {
            var stop = Math.Min(to, (headUnit + 1) * UnitSize);
            WriteInCluster(virtualCluster, from, ZeroCluster.AsSpan(0, stop - from));
        }

        var tailUnit = (to - 1) / UnitSize;
        if (to % UnitSize != 0 && !(from % UnitSize != 0 && tailUnit == headUnit) && IsSet(entry.ValidUnits, tailUnit))
        {
            var startByte = Math.Max(from, tailUnit * UnitSize);
            WriteInCluster(virtualCluster, startByte, ZeroCluster.AsSpan(0, to - startByte));
        }
    }

    private void EnterShared()
    {
        _record.IoLock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            _store.ThrowIfUnusable();
        }
        catch
        {
            _record.IoLock.ExitReadLock();
            throw;
        }
    }

    private void CheckWritable()
    {
        if (_record.IsReadOnly)
        {
            throw new StorageException(StorageError.ReadOnly, $"{_record.Id} is a snapshot and cannot be written.");
        }
    }

    private void CheckRange(long offsetBytes, long lengthBytes)
    {
        var size = SizeBytes;
        if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes > size || lengthBytes > size - offsetBytes)
        {
            throw new StorageException(StorageError.OutOfRange, $"Range [{offsetBytes}, +{lengthBytes}) is outside volume {_record.Id} ({size} bytes).");
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static uint VirtualCluster(long offsetBytes) => (uint)(offsetBytes >> Layout.ClusterSizeLog2);

    private static ulong Tweak(uint virtualCluster, int unit) => ((ulong)virtualCluster * Layout.UnitsPerCluster) + (ulong)unit;

    private static bool IsSet(ushort mask, int unit) => ((mask >> unit) & 1) != 0;

    private static ushort UnitMask(int first, int end) => (ushort)(((1 << (end - first)) - 1) << first);

    /// <summary>Finds the next run of consecutive set bits at or after <paramref name="unit"/>; advances past it.</summary>
    private static bool NextRun(ushort mask, ref int unit, out int first, out int count)
    {
        while (unit < Layout.UnitsPerCluster && !IsSet(mask, unit))
        {
            unit++;
        }

        first = unit;
        while (unit < Layout.UnitsPerCluster && IsSet(mask, unit))
        {
            unit++;
        }

        count = unit - first;
        return count > 0;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (!_record.IsReadOnly && _store.IsUsable)
            {
                _store.Flush();
            }
        }
        finally
        {
            _store.CloseVolume(_record);
            if (_ownsCipher)
            {
                (_cipher as IDisposable)?.Dispose();
            }
        }
    }

    /// <summary>Collects exclusively owned clusters freed by a range clear; shared ones are left to the collector.</summary>
    private struct FreedClusters(ulong sharedBefore) : IMapVisitor
    {
        private List<ulong>? _exclusive;
        private long _shared;

        public bool Visit(uint virtualCluster, in MapEntry entry)
        {
            if (entry.Birth > sharedBefore)
            {
                (_exclusive ??= []).Add(entry.PhysicalCluster);
            }
            else
            {
                _shared++;
            }

            return true;
        }

        public readonly void Release(VolumeStore store, ulong sequence)
        {
            foreach (var cluster in _exclusive ?? [])
            {
                store.FreeClusterAfter(cluster, sequence);
            }

            for (var i = 0L; i < _shared; i++)
            {
                store.NoteGarbageHint();
            }
        }
    }

    /// <summary>Turns valid-unit bitmaps into merged byte ranges clipped to [start, end).</summary>
    private struct RangeCollector(List<AllocatedRange> ranges, long start, long end, int maxRanges) : IMapVisitor
    {
        private long _runStart = -1;
        private long _runEnd = -1;

        public bool Visit(uint virtualCluster, in MapEntry entry)
        {
            var clusterBase = (long)virtualCluster * ClusterSize;
            var mask = entry.ValidUnits;
            for (var unit = 0; unit < Layout.UnitsPerCluster; unit++)
            {
                if (!IsSet(mask, unit))
                {
                    continue;
                }

                var from = Math.Max(start, clusterBase + ((long)unit * UnitSize));
                var to = Math.Min(end, clusterBase + ((long)(unit + 1) * UnitSize));
                if (from >= to)
                {
                    continue;
                }

                if (from == _runEnd)
                {
                    _runEnd = to;
                }
                else
                {
                    if (!Emit())
                    {
                        return false;
                    }

                    _runStart = from;
                    _runEnd = to;
                }
            }

            return true;
        }

        public void Finish() => _ = Emit();

        private bool Emit()
        {
            if (_runStart >= 0)
            {
                ranges.Add(new AllocatedRange(_runStart, _runEnd - _runStart));
                _runStart = -1;
                _runEnd = -1;
            }

            return ranges.Count < maxRanges;
        }
    }
}
