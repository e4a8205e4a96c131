// Hostile or broken requests in the transmission phase (proto.md "Request types", "Error values").
// Each gets its errno with the stream still in sync, or the connection is closed when the stream
// cannot be trusted any more; the server never crashes or hangs, and other connections carry on.
using Ironclad.Nbd.Tests.Support;
using Ironclad.Nbd.Tests.Transmission;

namespace Ironclad.Nbd.Tests.Abuse;

public sealed class TransmissionAbuseTests
{
    private const ulong Size = (ulong)NbdTestServer.DiskBytes;

    [Fact]
    public async Task A_request_without_the_request_magic_makes_the_server_close()
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        await client.SendAsync(RawNbdClient.Request(0, Wire.CmdRead, 1, 0, 512, magic: Wire.SimpleReplyMagic));

        Assert.Empty(await client.WaitForCloseAsync());
        await bystander.AssertUnaffectedAsync();
    }

    [Theory]
    [InlineData(8)] // NBD_CMD_RESIZE: not advertised
    [InlineData(9)]
    [InlineData(0x7fff)]
    [InlineData(0xffff)]
    public async Task An_unknown_command_is_invalid(ushort command)
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        Assert.Equal(Wire.EINVAL, (await client.RequestAsync(command, 0, 512)).Errno);
        await AssertInSyncAsync(client);
    }

    [Theory]
    [InlineData(Wire.CmdRead, 1 << 6, false)]
    [InlineData(Wire.CmdRead, 1 << 15, false)]
    [InlineData(Wire.CmdRead, Wire.CmdFlagDf, false)] // DF without structured replies
    [InlineData(Wire.CmdRead, Wire.CmdFlagReqOne, true)]
    [InlineData(Wire.CmdWrite, Wire.CmdFlagNoHole, false)] // payload follows: must still be consumed
    [InlineData(Wire.CmdWrite, 1 << 9, true)]
    [InlineData(Wire.CmdTrim, Wire.CmdFlagFastZero, false)]
    [InlineData(Wire.CmdWriteZeroes, Wire.CmdFlagDf, true)]
    [InlineData(Wire.CmdBlockStatus, Wire.CmdFlagNoHole, true)]
    public async Task Unknown_or_inapplicable_command_flags_are_invalid(ushort command, ushort flags, bool structured)
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(structured: structured, baseAllocation: command == Wire.CmdBlockStatus);
        await using var _ = client;
        ReadOnlyMemory<byte> payload = command == Wire.CmdWrite ? new byte[512] : default;

        Assert.Equal(Wire.EINVAL, (await client.RequestAsync(command, 0, 512, flags, payload)).Errno);
        await AssertInSyncAsync(client);
    }

    [Theory]
    [InlineData(Size, 1u)]
    [InlineData(Size - 1, 2u)]
    [InlineData(Size + 4096, 4096u)]
    [InlineData(ulong.MaxValue, 1u)]
    [InlineData(ulong.MaxValue - 100, 512u)] // offset + length wraps past 2^64
    [InlineData(1ul << 63, 512u)]
    public async Task Reads_and_other_non_writes_beyond_the_end_are_invalid(ulong offset, uint length)
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(baseAllocation: true);
        await using var _ = client;

        Assert.Equal(Wire.EINVAL, (await client.ReadAsync(offset, length)).Errno);
        Assert.Equal(Wire.EINVAL, (await client.RequestAsync(Wire.CmdCache, offset, length)).Errno);
        Assert.Equal(Wire.EINVAL, (await client.RequestAsync(Wire.CmdBlockStatus, offset, length)).Errno);
        await AssertInSyncAsync(client);
    }

    [Theory]
    [InlineData(Size, 1u)]
    [InlineData(Size - 1, 2u)]
    [InlineData(ulong.MaxValue - 100, 512u)] // offset + length wraps past 2^64
    [InlineData(1ul << 63, 512u)]
    public async Task Writes_beyond_the_end_are_out_of_space_and_the_payload_is_consumed(ulong offset, uint length)
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(structured: true);
        await using var _ = client;

        Assert.Equal(Wire.ENOSPC, (await client.WriteAsync(offset, new byte[length])).Errno);
        Assert.Equal(Wire.ENOSPC, (await client.RequestAsync(Wire.CmdTrim, offset, length)).Errno);
        Assert.Equal(Wire.ENOSPC, (await client.RequestAsync(Wire.CmdWriteZeroes, offset, length)).Errno);
        await AssertInSyncAsync(client);
    }

    [Theory]
    [InlineData(Wire.CmdRead)]
    [InlineData(Wire.CmdWrite)]
    [InlineData(Wire.CmdTrim)]
    [InlineData(Wire.CmdWriteZeroes)]
    public async Task Zero_length_requests_are_invalid(ushort command)
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        Assert.Equal(Wire.EINVAL, (await client.RequestAsync(command, 0, 0)).Errno);
        await AssertInSyncAsync(client);
    }

    [Theory]
    [InlineData(false, 0, Wire.EINVAL)]
    [InlineData(true, 0, Wire.EINVAL)]
    [InlineData(true, Wire.CmdFlagDf, Wire.EOVERFLOW)]
    public async Task A_read_larger_than_the_maximum_block_size_is_refused(bool structured, ushort flags, uint errno)
    {
        await using var server = NbdTestServer.Start(o => o with { PayloadBytesMax = 64 * 1024 });
        var (client, _) = await server.OpenAsync(structured: structured);
        await using var _ = client;

        var reply = await client.ReadAsync(0, 64 * 1024 + 1, flags);

        Assert.Equal(errno, reply.Errno);
        Assert.Empty(reply.Data);
        Assert.Equal(0u, (await client.ReadAsync(0, 64 * 1024, flags)).Errno); // the maximum itself is fine
        await AssertInSyncAsync(client);
    }

    [Fact]
    public async Task A_write_larger_than_the_default_maximum_block_size_is_refused_and_the_stream_stays_in_sync()
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        var reply = await client.WriteAsync(0, new byte[(32 << 20) + 4096]);

        Assert.Equal(Wire.EINVAL, reply.Errno);
        await AssertInSyncAsync(client);
    }

    [Theory]
    [InlineData(4096, 4097)]
    [InlineData(64 * 1024, 100 * 1024)]
    [InlineData(512 * 1024, 2 << 20)]
    [InlineData(1 << 20, 3 << 20)]
    public async Task A_write_larger_than_a_configured_maximum_block_size_is_refused_and_the_stream_stays_in_sync(int payloadBytesMax, int writeBytes)
    {
        await using var server = NbdTestServer.Start(o => o with { PayloadBytesMax = payloadBytesMax });
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        var reply = await client.WriteAsync(0, new byte[writeBytes]);

        Assert.Equal(Wire.EINVAL, reply.Errno);
        await AssertInSyncAsync(client);
    }

    [Fact]
    public async Task A_write_payload_too_large_to_skip_closes_the_connection()
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        await client.SendRequestAsync(0, Wire.CmdWrite, 1, 0, uint.MaxValue);

        Assert.Empty(await client.WaitForCloseAsync());
        await bystander.AssertUnaffectedAsync();
    }

    [Theory]
    [InlineData(Wire.CmdWrite, 0)]
    [InlineData(Wire.CmdWrite, Wire.CmdFlagFua)]
    [InlineData(Wire.CmdTrim, 0)]
    [InlineData(Wire.CmdWriteZeroes, 0)]
    [InlineData(Wire.CmdWriteZeroes, Wire.CmdFlagNoHole)]
    public async Task Writes_to_a_read_only_export_are_not_permitted(ushort command, ushort flags)
    {
        await using var server = NbdTestServer.Start();
        var disk = server.Catalog[NbdTestServer.ReadOnlyDisk];
        disk.Fill(0, [9, 9, 9]);
        var (client, _) = await server.OpenAsync(NbdTestServer.ReadOnlyDisk);
        await using var _ = client;
        ReadOnlyMemory<byte> payload = command == Wire.CmdWrite ? new byte[4096] : default;

        Assert.Equal(Wire.EPERM, (await client.RequestAsync(command, 0, 4096, flags, payload)).Errno);
        Assert.Equal(new byte[] { 9, 9, 9 }, disk.Snapshot(0, 3));
        Assert.Equal(0u, (await client.RequestAsync(Wire.CmdFlush, 0, 0)).Errno);
        Assert.Equal(new byte[] { 9, 9, 9 }, (await client.ReadAsync(0, 3)).Data);
    }

    [Fact]
    public async Task Disconnect_with_requests_in_flight_answers_them_before_closing()
    {
        const uint Length = 128 * 1024; // large enough to run on worker threads, so they are really in flight
        await using var server = NbdTestServer.Start();
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
        var (client, _) = await server.OpenAsync(structured: true);
        await using var _ = client;
        var cookies = new HashSet<ulong> { 11, 12, 13 };

        foreach (var cookie in cookies)
        {
            await client.SendRequestAsync(0, Wire.CmdRead, cookie, (cookie - 11) * Length, Length);
        }

        await client.SendRequestAsync(0, Wire.CmdDisc, 99, 0, 0);
        Assert.True(await started.WaitAsync(RawNbdClient.Timeout, TestContext.Current.CancellationToken));
        await Task.Delay(100, TestContext.Current.CancellationToken); // let the server read the rest, NBD_CMD_DISC included
        gate.Set();

        await TransmissionTests.ReadRepliesAsync(client, cookies, cookies.ToDictionary(c => c, _ => (int)Length), (reply, _) => Assert.Equal(0u, reply.Errno));
        Assert.Empty(await client.WaitForCloseAsync());
        await server.AssertExportsReleasedAsync();
    }

    [Fact]
    public async Task A_client_that_vanishes_with_requests_in_flight_does_not_disturb_the_server()
    {
        await using var server = NbdTestServer.Start();
        await using var bystander = await Bystander.OpenAsync(server);
        var (client, _) = await server.OpenAsync();

        for (ulong i = 0; i < 32; i++)
        {
            await client.SendRequestAsync(0, Wire.CmdRead, i, 0, 256 * 1024);
        }

        await client.SendRequestAsync(0, Wire.CmdWrite, 99, 0, 4096); // header only: the payload never comes
        client.Reset();

        await bystander.AssertUnaffectedAsync();
        await bystander.DisposeAsync();
        await server.AssertExportsReleasedAsync(TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task A_client_that_stops_reading_replies_does_not_disturb_other_connections()
    {
        await using var server = NbdTestServer.Start(o => o with { QueueDepthMax = 4 });
        await using var bystander = await Bystander.OpenAsync(server);
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        // 64 MiB of read replies that nobody reads: the server's sends and then its reader stall.
        var requests = Enumerable.Range(0, 64).SelectMany(i => RawNbdClient.Request(0, Wire.CmdRead, (ulong)i, 0, 1 << 20)).ToArray();
        await client.SendAsync(requests);

        await bystander.AssertUnaffectedAsync();
    }

    [Fact]
    public async Task Flush_with_a_nonzero_offset_is_still_answered()
    {
        // proto.md: for NBD_CMD_FLUSH offset and length are reserved (MUST be zero), but a client that
        // breaks that must still get a reply (or a closed connection), never silence.
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        foreach (var (offset, length) in new[] { (4096ul, 0u), (0ul, 4096u), (1ul << 63, 0u), (ulong.MaxValue, uint.MaxValue) })
        {
            var reply = await client.RequestAsync(Wire.CmdFlush, offset, length, timeout: TimeSpan.FromSeconds(5));
            Assert.True(reply.Errno is 0 or Wire.EINVAL, $"flush at {offset}+{length}: errno {reply.Errno} (expected success, or EINVAL for the reserved fields)");
        }

        await AssertInSyncAsync(client);
    }

    [Theory]
    [InlineData(Wire.CmdRead)]
    [InlineData(Wire.CmdFlush)]
    [InlineData(Wire.CmdCache)]
    [InlineData(Wire.CmdWriteZeroes)]
    [InlineData(Wire.CmdBlockStatus)]
    public async Task Fua_is_accepted_on_every_command_once_send_fua_is_advertised(ushort command)
    {
        // proto.md "Command flags": NBD_CMD_FLAG_FUA "is valid for all commands, provided
        // NBD_FLAG_SEND_FUA has been negotiated, in which case the server MUST accept all commands
        // with this bit set (even by ignoring the bit)". Existing clients do set it on reads.
        await using var server = NbdTestServer.Start();
        var (client, export) = await server.OpenAsync(baseAllocation: true);
        await using var _ = client;
        Assert.NotEqual(0, export.Flags & Wire.SendFua);

        var reply = await client.RequestAsync(command, 0, command == Wire.CmdFlush ? 0u : 4096u, Wire.CmdFlagFua);

        Assert.Equal(0u, reply.Errno);
    }

    /// <summary>The connection still answers a well-formed request with the right data: nothing was left unread or sent twice.</summary>
    private static async Task AssertInSyncAsync(RawNbdClient client)
    {
        Assert.Equal(0u, (await client.WriteAsync(8192, "in sync"u8.ToArray())).Errno);
        var read = await client.ReadAsync(8192, 7);
        Assert.Equal(0u, read.Errno);
        Assert.Equal("in sync"u8.ToArray(), read.Data);
    }
}
