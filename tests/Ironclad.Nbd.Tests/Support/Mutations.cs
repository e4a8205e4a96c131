// Seeded input generators for parser property tests and the fuzz smoke tests: random bytes, and
// structure-aware damage to valid inputs (the cases random bytes almost never reach).
namespace Ironclad.Nbd.Tests.Support;

internal static class Mutations
{
    private static readonly uint[] Boundaries = [0, 1, 2, 4, 27, 28, 64, 65, 4095, 4096, 4097, 0x7fffffff, 0x80000000, 0xffffffff];

    public static byte[] RandomBytes(Random random, int maxLength)
    {
        var bytes = new byte[random.Next(0, maxLength + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>One to three edits: flip a bit, truncate, insert random bytes, overwrite a 32-bit field with a boundary value, or append a byte.</summary>
    public static byte[] Mutate(Random random, ReadOnlySpan<byte> seed)
    {
        var bytes = new List<byte>(seed.ToArray());
        for (var edits = random.Next(1, 4); edits > 0; edits--)
        {
            switch (random.Next(5))
            {
                case 0 when bytes.Count > 0:
                    bytes[random.Next(bytes.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes.RemoveRange(random.Next(bytes.Count), 1);
                    bytes = [.. bytes.Take(random.Next(bytes.Count + 1))];
                    break;
                case 2:
                    bytes.InsertRange(random.Next(bytes.Count + 1), RandomBytes(random, 8));
                    break;
                case 3 when bytes.Count >= 4:
                    var at = random.Next(bytes.Count - 3);
                    var value = Boundaries[random.Next(Boundaries.Length)];
                    for (var b = 0; b < 4; b++)
                    {
                        bytes[at + b] = (byte)(value >> (24 - (8 * b)));
                    }

                    break;
                default:
                    bytes.Add((byte)random.Next(256));
                    break;
            }
        }

        return [.. bytes];
    }
}
