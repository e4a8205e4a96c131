// Server-wide limits and lifecycle: the handshake deadline, the connection cap, plain NBD only on
// loopback, and shutdown that answers what it has read.
using System.Diagnostics;
using System.Net;
using Ironclad.Nbd.Server;
using Ironclad.Nbd.Tests.Support;

namespace Ironclad.Nbd.Tests.Abuse;

public sealed class ServerLimitsTests
{
    [Fact]
    public async Task A_client_that_connects_and_sends_nothing_is_dropped_after_the_handshake_timeout()
    {
        await using var server = NbdTestServer.Start(o => o with { HandshakeTimeout = TimeSpan.FromSeconds(1) });
        await using var bystander = await Bystander.OpenAsync(server); // past its handshake: no deadline any more
        await using var client = await server.ConnectAsync();
        var clock = Stopwatch.StartNew();

        await client.ReadGreetingAsync();
        await client.WaitForCloseAsync(TimeSpan.FromSeconds(10));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(8));
        await Task.Delay(300, TestContext.Current.CancellationToken);
        await bystander.AssertUnaffectedAsync();
    }

    [Fact]
    public async Task A_client_that_trickles_options_is_dropped_at_the_handshake_deadline()
    {
        await using var server = NbdTestServer.Start(o => o with { HandshakeTimeout = TimeSpan.FromSeconds(1) });
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        var clock = Stopwatch.StartNew();

        var closed = false;
        while (!closed && clock.Elapsed < TimeSpan.FromSeconds(8))
        {
            try
            {
                await client.SendOptionAsync(0x4242);
                await client.ReadOptionReplyAsync();
                await Task.Delay(100, TestContext.Current.CancellationToken);
            }
            catch (Exception e) when (e is EndOfStreamException or IOException)
            {
                closed = true;
            }
        }

        Assert.True(closed, "the server kept a client in option haggling past its handshake timeout");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task Connections_beyond_the_maximum_are_closed_at_once_and_accepted_again_when_one_leaves()
    {
        await using var server = NbdTestServer.Start(o => o with { ConnectionsMax = 2 });
        var first = await server.ConnectAsync();
        await first.ReadGreetingAsync();
        await using var second = await server.ConnectAsync();
        await second.ReadGreetingAsync();

        await using (var third = await server.ConnectAsync())
        {
            Assert.Empty(await third.WaitForCloseAsync());
        }

        await first.DisposeAsync();
        var deadline = Stopwatch.StartNew();
        while (server.Server.ActiveConnections > 1 && deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task Shutdown_answers_requests_in_flight_before_closing()
    {
        const uint Length = 128 * 1024;
        var server = NbdTestServer.Start();
        using var started = new SemaphoreSlim(0);
        using var gate = new ManualResetEventSlim();
        server.Catalog[NbdTestServer.Disk].BeforeOperation = (operation, _, _) =>
        {
            if (operation == "Read")
            {
                started.Release();
                gate.Wait(TimeSpan.FromSeconds(20));
            }
        };
        var (client, _) = await server.OpenAsync();
        await using var _ = client;
        await client.SendRequestAsync(0, Wire.CmdRead, 7, 0, Length);
        Assert.True(await started.WaitAsync(RawNbdClient.Timeout, TestContext.Current.CancellationToken));

        var disposing = server.DisposeAsync().AsTask();
        await Task.Delay(100, TestContext.Current.CancellationToken);
        Assert.False(disposing.IsCompleted, "shutdown did not wait for the request in flight");
        gate.Set();

        var reply = await client.ReadReplyAsync(_ => (int)Length);
        Assert.Equal(7ul, reply.Cookie);
        Assert.Equal(0u, reply.Errno);
        Assert.Empty(await client.WaitForCloseAsync());
        await disposing.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        Assert.Equal(0, server.Catalog.OpenHandles);
    }

    [Fact]
    public async Task Shutdown_closes_clients_still_in_the_handshake()
    {
        var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);

        Assert.Empty(await client.WaitForCloseAsync());
    }

    [Fact]
    public void Plain_nbd_is_refused_on_a_non_loopback_address()
    {
        var options = new NbdServerOptions { ListenEndPoint = new IPEndPoint(IPAddress.Any, 0), TlsMode = NbdTlsMode.Off };
        var server = new NbdServer(options, new MemoryCatalog());

        Assert.Throws<InvalidOperationException>(server.Start);
    }

    [Fact]
    public void The_advertised_maximum_block_size_is_a_multiple_of_the_minimum_or_refused()
    {
        // proto.md "Block size constraints": the maximum MUST be an integer multiple of the minimum
        // block size (512 here) or 0xffffffff. A configuration that cannot be advertised must not start.
        var options = new NbdServerOptions { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), TlsMode = NbdTlsMode.Off, PayloadBytesMax = 5000 };

        Assert.ThrowsAny<ArgumentException>(() => new NbdServer(options, new MemoryCatalog()));
    }
}
