// Byte-span equality with a failure message that names the case (seed, key, index) but never dumps
// buffers: a 1 MiB diff helps nobody, the first differing offset does.
namespace Ironclad.Crypto.Tests.Support;

internal static class ByteAssert
{
    public static void Equal(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string context)
    {
        if (expected.SequenceEqual(actual))
        {
            return;
        }

        var offset = expected.CommonPrefixLength(actual);
        Assert.Fail(
            $"{context}: {expected.Length} bytes expected, {actual.Length} actual; first difference at byte {offset} " +
            $"(data unit {offset / 4096}, block {offset % 4096 / 16}).");
    }
}
