// DataKey guards the DEK: two distinct XTS halves, exact length, never printed or serialized.
using System.Text.Json;
using Ironclad.Crypto.Keys;

namespace Ironclad.Crypto.Tests.Keys;

public sealed class DataKeyTests
{
    [Fact]
    public void Generate_gives_distinct_halves_and_distinct_keys()
    {
        const int keyCount = 64;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < keyCount; i++)
        {
            using var key = DataKey.Generate();
            var bytes = key.Bytes;
            Assert.Equal(DataKey.SizeBytes, bytes.Length);
            Assert.False(bytes[..32].SequenceEqual(bytes[32..]), "the two XTS halves are equal");
            Assert.True(seen.Add(Convert.ToHexString(bytes)), "Generate returned a key twice");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(63)]
    [InlineData(65)]
    [InlineData(128)]
    public void FromBytes_rejects_a_wrong_length(int lengthBytes)
    {
        var bytes = Enumerable.Range(0, lengthBytes).Select(i => (byte)i).ToArray();

        Assert.Throws<ArgumentException>("source", () => DataKey.FromBytes(bytes));
    }

    [Fact]
    public void FromBytes_rejects_equal_halves()
    {
        var half = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

        Assert.Throws<ArgumentException>("source", () => DataKey.FromBytes([.. half, .. half]));
    }

    [Fact]
    public void FromBytes_copies_the_source()
    {
        var source = Enumerable.Range(0, DataKey.SizeBytes).Select(i => (byte)i).ToArray();
        using var key = DataKey.FromBytes(source);

        Array.Clear(source);

        Assert.Equal(Enumerable.Range(0, DataKey.SizeBytes).Select(i => (byte)i), key.Bytes.ToArray());
    }

    [Fact]
    public void ToString_never_shows_key_bytes()
    {
        using var key = DataKey.Generate();
        Assert.Equal("DataKey(redacted)", key.ToString());
    }

    [Fact]
    public void System_Text_Json_refuses_to_serialize_or_deserialize_a_key()
    {
        using var key = DataKey.Generate();

        Assert.ThrowsAny<NotSupportedException>(() => JsonSerializer.Serialize(key));
        Assert.ThrowsAny<NotSupportedException>(() => JsonSerializer.Serialize(new { Key = key }));
        Assert.ThrowsAny<NotSupportedException>(() => JsonSerializer.Deserialize<DataKey>("\"AAAA\""));
    }

    [Fact]
    public void Dispose_makes_the_bytes_unreachable()
    {
        var key = DataKey.Generate();

        key.Dispose();
        key.Dispose();

        Assert.True(key.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => key.Bytes.Length);
        Assert.Throws<ObjectDisposedException>(() => key.UseBytes(0, static (bytes, _) => bytes.Length));
    }
}
