// Hostile or broken clients during option haggling. The server must answer with the protocol's
// error or close the connection; never crash, hang, leak the export, or disturb other connections.
// After every case a bystander session opened beforehand and a fresh connection must still work.
using System.Text;
using Ironclad.Nbd.Tests.Support;

namespace Ironclad.Nbd.Tests.Abuse;

public sealed class HandshakeAbuseTests
{
    public static TheoryData<int> TruncationPoints() => [0, 2, 4, 10, 16, 20];

    [Theory]
    [MemberData(nameof(TruncationPoints))]
    public async Task A_client_that_closes_mid_handshake_is_dropped(int bytesSent)
    {
        // Client flags (4 bytes) then an INFO option whose header declares more data than follows.
        byte[] stream = [0, 0, 0, 3, .. RawNbdClient.OptionWithLength(Wire.OptInfo, 100, new byte[10])];
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);

        await using (var client = await server.ConnectAsync())
        {
            await client.ReadGreetingAsync();
            await client.SendAsync(stream.AsMemory(0, bytesSent));
        }

        await bystander.AssertUnaffectedAsync();
    }

    [Theory]
    [InlineData(Wire.ClientFixedNewstyle | 4u)]
    [InlineData(0x80000000u)]
    [InlineData(0xffffffffu)]
    public async Task Unknown_client_flags_make_the_server_close(uint flags)
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        await using var client = await server.ConnectAsync();
        await client.ReadGreetingAsync();

        await client.SendClientFlagsAsync(flags);

        Assert.Empty(await client.WaitForCloseAsync());
        await bystander.AssertUnaffectedAsync();
    }

    [Theory]
    [InlineData(64u * 1024 + 1)]
    [InlineData(uint.MaxValue)]
    public async Task An_option_longer_than_64_KiB_makes_the_server_close(uint declaredLength)
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        await client.SendAsync(RawNbdClient.OptionWithLength(Wire.OptList, declaredLength, []));

        Assert.Empty(await client.WaitForCloseAsync());
        await bystander.AssertUnaffectedAsync();
    }

    [Fact]
    public async Task An_option_of_exactly_64_KiB_is_read_and_answered()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        Assert.Equal(Wire.RepErrUnsup, Assert.Single(await client.OptionAsync(0x1234, new byte[64 * 1024])).Type);
        await client.GoAsync(NbdTestServer.Disk);
    }

    [Fact]
    public async Task An_option_without_the_IHAVEOPT_magic_makes_the_server_close()
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        var option = RawNbdClient.EncodeOption(Wire.OptList, []);
        option[0] ^= 0xff;

        await client.SendAsync(option);

        Assert.Empty(await client.WaitForCloseAsync());
        await bystander.AssertUnaffectedAsync();
    }

    [Fact]
    public async Task A_client_that_never_picks_an_export_is_closed_after_1024_options()
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var answered = 0;
        for (var i = 0; i < 1100; i++)
        {
            try
            {
                await client.SendOptionAsync(0x4242);
                var reply = await client.ReadOptionReplyAsync();
                Assert.Equal(Wire.RepErrUnsup, reply.Type);
                answered++;
            }
            catch (Exception e) when (e is EndOfStreamException or IOException)
            {
                break;
            }
        }

        Assert.Equal(1024, answered);
        await client.WaitForCloseAsync();
        await bystander.AssertUnaffectedAsync();
    }

    [Theory]
    [InlineData(new byte[] { (byte)'n', (byte)'o', (byte)'p', (byte)'e' })]
    [InlineData(new byte[] { (byte)'d', 0, (byte)'k' })]
    [InlineData(new byte[] { 0xed, 0xb0, 0x80 })]
    [InlineData(new byte[] { 0xc0, 0x80 })]
    public async Task Export_name_for_an_unknown_or_malformed_name_closes_the_connection(byte[] name)
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        await client.SendOptionAsync(Wire.OptExportName, name);

        Assert.Empty(await client.WaitForCloseAsync());
        await bystander.AssertUnaffectedAsync();
    }

    [Fact]
    public async Task Options_other_than_export_name_without_fixed_newstyle_close_the_connection()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync(clientFlags: 0);

        await client.SendOptionAsync(Wire.OptList);

        Assert.Empty(await client.WaitForCloseAsync());
        await server.AssertStillServesAsync();
    }

    [Fact]
    public async Task Transmission_requests_sent_during_the_handshake_close_the_connection()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        await client.SendAsync(RawNbdClient.Request(0, Wire.CmdRead, 1, 0, 512));

        Assert.Empty(await client.WaitForCloseAsync());
        await server.AssertStillServesAsync();
    }

    [Theory]
    [InlineData(Wire.OptGo)]
    [InlineData(Wire.OptExportName)]
    public async Task An_export_opened_for_a_client_that_vanished_before_the_reply_is_released(uint option)
    {
        await using var server = NbdTestServer.Start();
        using var opening = new SemaphoreSlim(0);
        using var proceed = new ManualResetEventSlim();
        server.Catalog.BeforeOpen = _ =>
        {
            opening.Release();
            proceed.Wait(TimeSpan.FromSeconds(10));
        };
        var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        await client.SendOptionAsync(option, option == Wire.OptGo ? RawNbdClient.InfoRequest(NbdTestServer.Disk) : Encoding.UTF8.GetBytes(NbdTestServer.Disk));
        Assert.True(await opening.WaitAsync(RawNbdClient.Timeout, TestContext.Current.CancellationToken));

        // The client disappears (TCP reset) while the server is inside Open: its reply cannot be sent.
        client.Reset();
        await Task.Delay(200, TestContext.Current.CancellationToken);
        server.Catalog.BeforeOpen = null;
        proceed.Set();

        await server.WaitForNoConnectionsAsync();
        Assert.True(server.Catalog.OpenHandles == 0, "the server opened the export for a connection that failed during the handshake and never disposed it");
        await server.AssertStillServesAsync();
    }
}
