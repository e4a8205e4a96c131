// The in-memory reference model the storage tests compare against: a sparse byte array with the
// engine's documented semantics (trim zeroes whole 4 KiB units only; write-zeroes zeroes every byte).
namespace Ironclad.Storage.Tests;

internal sealed class ReferenceVolume
{
    private const int UnitSize = 4096;
    private readonly Dictionary<long, byte[]> _units;

    public ReferenceVolume(long sizeBytes)
        : this(sizeBytes, [])
    {
    }

    private ReferenceVolume(long sizeBytes, Dictionary<long, byte[]> units)
    {
        SizeBytes = sizeBytes;
        _units = units;
    }

    public long SizeBytes { get; set; }

    public IEnumerable<long> NonZeroUnits => _units.Where(u => u.Value.AsSpan().IndexOfAnyExcept((byte)0) >= 0).Select(u => u.Key);

    public ReferenceVolume Copy(long? sizeBytes = null) =>
        new(sizeBytes ?? SizeBytes, _units.ToDictionary(u => u.Key, u => (byte[])u.Value.Clone()));

    public void Write(long offsetBytes, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            var unit = offsetBytes / UnitSize;
            var inUnit = (int)(offsetBytes % UnitSize);
            var n = Math.Min(data.Length, UnitSize - inUnit);
            if (!_units.TryGetValue(unit, out var bytes))
            {
                bytes = _units[unit] = new byte[UnitSize];
            }

            data[..n].CopyTo(bytes.AsSpan(inUnit));
            data = data[n..];
            offsetBytes += n;
        }
    }

    public void Read(long offsetBytes, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            var unit = offsetBytes / UnitSize;
            var inUnit = (int)(offsetBytes % UnitSize);
            var n = Math.Min(destination.Length, UnitSize - inUnit);
            if (_units.TryGetValue(unit, out var bytes))
            {
                bytes.AsSpan(inUnit, n).CopyTo(destination);
            }
            else
            {
                destination[..n].Clear();
            }

            destination = destination[n..];
            offsetBytes += n;
        }
    }

    /// <summary>Trim: whole 4 KiB units inside the range read as zeros; partially covered units keep their data.</summary>
    public void Trim(long offsetBytes, long lengthBytes)
    {
        var first = (offsetBytes + UnitSize - 1) / UnitSize;
        var end = (offsetBytes + lengthBytes) / UnitSize;
        foreach (var unit in _units.Keys.Where(u => u >= first && u < end).ToList())
        {
            _units.Remove(unit);
        }
    }

    public void Zero(long offsetBytes, long lengthBytes)
    {
        Trim(offsetBytes, lengthBytes);
        var end = offsetBytes + lengthBytes;
        while (offsetBytes < end)
        {
            var unit = offsetBytes / UnitSize;
            var inUnit = (int)(offsetBytes % UnitSize);
            var n = (int)Math.Min(end - offsetBytes, UnitSize - inUnit);
            if (_units.TryGetValue(unit, out var bytes))
            {
                bytes.AsSpan(inUnit, n).Clear();
            }

            offsetBytes += n;
        }
    }
}
