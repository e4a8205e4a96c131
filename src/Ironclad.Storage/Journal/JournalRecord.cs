// Journal record types and their payload layouts (format v1, frozen: tags and layouts may only be
// appended to; Format tests pin them). Every record is framed as
//   u32 payloadLength | u32 crc32c(seq..payload) | u64 seq | u8 type | payload      (little-endian)
// and describes one complete logical change, so any prefix of the journal is a consistent state.
using System.Buffers.Binary;

namespace Ironclad.Storage.Journal;

internal enum RecordType : byte
{
    /// <summary>u32 ordinal, guid id, u64 sizeBytes, u64 epoch, 32-byte key check.</summary>
    CreateVolume = 1,

    /// <summary>u32 snapshotOrdinal, guid snapshotId, u32 sourceOrdinal, u64 epoch.</summary>
    CreateSnapshot = 2,

    /// <summary>u32 cloneOrdinal, guid cloneId, u32 snapshotOrdinal, u64 sizeBytes, u64 epoch.</summary>
    CreateClone = 3,

    /// <summary>u32 ordinal.</summary>
    Delete = 4,

    /// <summary>u32 ordinal, u64 sizeBytes.</summary>
    Resize = 5,

    /// <summary>u32 ordinal, u32 virtualCluster, u64 entryWord, u64 entryBirth.</summary>
    SetEntry = 6,

    /// <summary>u32 ordinal, u32 firstVirtualCluster, u32 clusterCount.</summary>
    ClearRange = 7,
}

internal static class JournalFrame
{
    public const int HeaderBytes = 17;
    public const int MaxPayloadBytes = 128;

    /// <summary>Writes a framed record into <paramref name="destination"/> and returns its length.</summary>
    public static int Write(Span<byte> destination, ulong sequence, RecordType type, ReadOnlySpan<byte> payload)
    {
        var total = HeaderBytes + payload.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], sequence);
        destination[16] = (byte)type;
        payload.CopyTo(destination[HeaderBytes..]);
        var crc = Format.Crc32C.Compute(destination[8..total]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], crc);
        return total;
    }

    /// <summary>Parses one record at the start of <paramref name="source"/>; false if it is incomplete or fails its checksum.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong sequence, out RecordType type, out ReadOnlySpan<byte> payload, out int length)
    {
        sequence = 0;
        type = 0;
        payload = default;
        length = 0;
        if (source.Length < HeaderBytes)
        {
            return false;
        }

        var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(source);
        if (payloadLength > MaxPayloadBytes || source.Length < HeaderBytes + (int)payloadLength)
        {
            return false;
        }

        length = HeaderBytes + (int)payloadLength;
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]);
        if (Format.Crc32C.Compute(source[8..length]) != crc)
        {
            return false;
        }

        sequence = BinaryPrimitives.ReadUInt64LittleEndian(source[8..]);
        type = (RecordType)source[16];
        payload = source.Slice(HeaderBytes, (int)payloadLength);
        return true;
    }
}

/// <summary>Little-endian payload builder for the record layouts above.</summary>
internal ref struct PayloadWriter
{
    private readonly Span<byte> _buffer;

    public PayloadWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        Length = 0;
    }

    public int Length { get; private set; }

    public readonly ReadOnlySpan<byte> Written => _buffer[..Length];

    public void U8(byte value) => _buffer[Length++] = value;

    public void U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer[Length..], value);
        Length += 4;
    }

    public void U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer[Length..], value);
        Length += 8;
    }

    public void Guid(Guid value)
    {
        _ = value.TryWriteBytes(_buffer[Length..], bigEndian: false, out var written);
        Length += written;
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_buffer[Length..]);
        Length += value.Length;
    }
}

/// <summary>Little-endian payload reader; throws StorageException(Corrupt) when a payload is short.</summary>
internal ref struct PayloadReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    public PayloadReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public byte U8() => Take(1)[0];

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public Guid Guid() => new(Take(16), bigEndian: false);

    public byte[] Bytes(int count) => Take(count).ToArray();

    public readonly void ExpectEnd()
    {
        if (_position != _buffer.Length)
        {
            throw new StorageException(StorageError.Corrupt, "Metadata record has trailing bytes.");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (_position + count > _buffer.Length)
        {
            throw new StorageException(StorageError.Corrupt, "Metadata record is shorter than its type requires.");
        }

        var slice = _buffer.Slice(_position, count);
        _position += count;
        return slice;
    }
}
