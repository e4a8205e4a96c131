// CRC-32C (Castagnoli) over byte spans, hardware-accelerated through BitOperations.Crc32C.
// Guards every journal record, checkpoint and header against torn or corrupted writes.
using System.Buffers.Binary;
using System.Numerics;

namespace Ironclad.Storage.Format;

internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Start, data));

    public const uint Start = 0xFFFFFFFFu;

    public static uint Finish(uint state) => ~state;

    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        var crc = state;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
