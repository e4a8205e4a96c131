// KeyReference parsing: the keyUrl forms a disk encryption set accepts (versioned kid, versionless
// keyUrl) and the malformed ones it must refuse with a clear error.
using Ironclad.Compute.KeyAccess;

namespace Ironclad.Compute.Tests;

public sealed class KeyReferenceTests
{
    [Theory]
    [InlineData("https://127.0.0.1:21000/keys/k1/0123456789abcdef0123456789abcdef", "k1", "0123456789abcdef0123456789abcdef")]
    [InlineData("https://127.0.0.1:21000/keys/my-key", "my-key", null)]
    [InlineData("https://127.0.0.1:21000/keys/my-key/", "my-key", null)]
    public void Parses_versioned_and_versionless_key_urls(string url, string name, string? version)
    {
        var key = KeyReference.Parse(url);
        Assert.Equal(new Uri("https://127.0.0.1:21000/"), key.VaultUri);
        Assert.Equal(name, key.Name);
        Assert.Equal(version, key.Version);
        Assert.Equal(version is not null, key.IsVersioned);
    }

    [Theory]
    [InlineData("http://127.0.0.1:21000/keys/k1")]
    [InlineData("https://127.0.0.1:21000/secrets/k1")]
    [InlineData("https://127.0.0.1:21000/keys/k1/v1/extra")]
    [InlineData("https://127.0.0.1:21000/keys/bad_name")]
    [InlineData("https://127.0.0.1:21000/keys/k1?x=1")]
    [InlineData("not a url")]
    [InlineData("")]
    public void Refuses_what_is_not_a_key_url(string url) =>
        Assert.False(KeyReference.TryParse(url, out _));

    [Fact]
    public void Round_trips_and_compares_keys_across_versions()
    {
        var v1 = KeyReference.Parse("https://127.0.0.1:21000/keys/K1/aaaa");
        var v2 = KeyReference.Parse("https://127.0.0.1:21000/keys/k1/bbbb");
        Assert.Equal("https://127.0.0.1:21000/keys/K1/aaaa", v1.ToString());
        Assert.True(v1.IsSameKey(v2));
        Assert.False(v1.IsSameKey(KeyReference.Parse("https://127.0.0.1:21001/keys/k1/aaaa")));
        Assert.Equal("https://127.0.0.1:21000/keys/K1", v1.Versionless().ToString());
    }
}
