using Ironclad.Crypto.Keys;

namespace Ironclad.Crypto.Tests;

public sealed class DataKeyTests
{
    [Fact]
    public void ToString_never_shows_key_bytes()
    {
        using var key = DataKey.Generate();
        Assert.Equal("DataKey(redacted)", key.ToString());
    }
}
