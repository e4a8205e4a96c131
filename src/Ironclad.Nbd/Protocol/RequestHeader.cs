// The 28-byte transmission request header (proto.md "Request message"): magic, command flags,
// type, cookie (the spec's "handle"), offset, length. Parsing is pure and total: any 28 bytes give
// either a header or false, never an exception (a fuzz target checks that).
using System.Buffers.Binary;

namespace Ironclad.Nbd.Protocol;

internal readonly record struct RequestHeader(CommandFlags Flags, NbdCommand Command, ulong Cookie, ulong OffsetBytes, uint LengthBytes)
{
    public const int SizeBytes = 28;

    /// <summary>False if the magic is wrong (the stream is out of sync: the connection must be dropped).</summary>
    public static bool TryParse(ReadOnlySpan<byte> source, out RequestHeader header)
    {
        header = default;
        if (source.Length < SizeBytes || BinaryPrimitives.ReadUInt32BigEndian(source) != NbdMagic.Request)
        {
            return false;
        }

        header = new RequestHeader(
            (CommandFlags)BinaryPrimitives.ReadUInt16BigEndian(source[4..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(source[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(source[24..]));
        return true;
    }

    public static void Write(Span<byte> destination, RequestHeader header)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.Request);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)header.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)header.Command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], header.Cookie);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], header.OffsetBytes);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], header.LengthBytes);
    }
}
