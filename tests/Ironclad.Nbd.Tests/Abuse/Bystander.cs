// A well-behaved session opened before an abuse case runs on another connection; afterwards it must
// still work, and so must a fresh connection (one client's abuse never affects another's).
using Ironclad.Nbd.Tests.Support;

namespace Ironclad.Nbd.Tests.Abuse;

internal sealed class Bystander : IAsyncDisposable
{
    private readonly NbdTestServer _server;
    private readonly RawNbdClient _client;
    private readonly byte[] _data;

    private Bystander(NbdTestServer server, RawNbdClient client, byte[] data)
    {
        _server = server;
        _client = client;
        _data = data;
    }

    public static async Task<Bystander> OpenAsync(NbdTestServer server)
    {
        var (client, _) = await server.OpenAsync(structured: true);
        var data = new byte[4096];
        new Random(4096).NextBytes(data);
        Assert.Equal(0u, (await client.WriteAsync(NbdTestServer.DiskBytes - 4096, data)).Errno);
        return new Bystander(server, client, data);
    }

    public async Task AssertUnaffectedAsync()
    {
        var read = await _client.ReadAsync(NbdTestServer.DiskBytes - 4096, 4096);
        Assert.Equal(0u, read.Errno);
        Assert.Equal(_data, read.Data);
        await _server.AssertStillServesAsync();
    }

    public ValueTask DisposeAsync() => _client.DisposeAsync();
}
