// Option haggling against a real server (proto.md "Fixed newstyle negotiation", "Option types").
using System.Buffers.Binary;
using System.Text;
using Ironclad.Nbd.Tests.Support;

namespace Ironclad.Nbd.Tests.Handshake;

public sealed class HandshakeTests
{
    [Fact]
    public async Task The_greeting_is_NBDMAGIC_IHAVEOPT_and_fixed_newstyle_with_no_zeroes()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();

        var greeting = await client.ReceiveExactlyAsync(18);

        Assert.Equal("NBDMAGICIHAVEOPT"u8.ToArray(), greeting[..16]);
        Assert.Equal(new byte[] { 0x00, 0x03 }, greeting[16..]);
    }

    [Fact]
    public async Task List_returns_every_export_name_and_its_description_then_ack()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var replies = await client.OptionAsync(Wire.OptList);

        Assert.Equal(Wire.RepAck, replies[^1].Type);
        Assert.Empty(replies[^1].Data);
        var servers = replies.SkipLast(1).ToList();
        Assert.All(servers, r => Assert.Equal(Wire.RepServer, r.Type));
        var entries = servers.Select(r =>
        {
            var nameLength = (int)BinaryPrimitives.ReadUInt32BigEndian(r.Data);
            Assert.True(nameLength <= r.Data.Length - 4);
            return (Name: Encoding.UTF8.GetString(r.Data, 4, nameLength), Details: Encoding.UTF8.GetString(r.Data, 4 + nameLength, r.Data.Length - 4 - nameLength));
        }).ToList();
        Assert.Equal([NbdTestServer.Disk, NbdTestServer.ReadOnlyDisk, NbdTestServer.SlowZeroDisk], entries.Select(e => e.Name));
        Assert.Equal(NbdTestServer.DiskDescription, entries[0].Details);
    }

    [Fact]
    public async Task List_with_data_is_invalid_and_the_session_continues()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        Assert.Equal(Wire.RepErrInvalid, Assert.Single(await client.OptionAsync(Wire.OptList, [1, 2, 3])).Type);
        Assert.Equal(NbdTestServer.DiskBytes, (long)(await client.GoAsync(NbdTestServer.Disk)).SizeBytes);
    }

    [Theory]
    [InlineData(Wire.OptInfo)]
    [InlineData(Wire.OptGo)]
    public async Task Info_and_go_send_the_export_size_and_flags_and_the_block_sizes(uint option)
    {
        await using var server = NbdTestServer.Start(o => o with { PayloadBytesMax = 1 << 20 });
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var export = await client.GoAsync(NbdTestServer.Disk, option, Wire.InfoBlockSize);

        Assert.Equal((ulong)NbdTestServer.DiskBytes, export.SizeBytes);
        Assert.NotEqual(0, export.Flags & Wire.HasFlags);
        var blockSize = Assert.Single(export.Replies, r => r.Type == Wire.RepInfo && r.InfoType == Wire.InfoBlockSize);
        Assert.Equal(14, blockSize.Data.Length);
        Assert.Equal(512u, BinaryPrimitives.ReadUInt32BigEndian(blockSize.Data.AsSpan(2)));
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32BigEndian(blockSize.Data.AsSpan(6)));
        Assert.Equal(1u << 20, BinaryPrimitives.ReadUInt32BigEndian(blockSize.Data.AsSpan(10)));
        Assert.DoesNotContain(export.Replies, r => r.Type == Wire.RepInfo && r.InfoType is Wire.InfoName or Wire.InfoDescription);
    }

    [Fact]
    public async Task Info_sends_name_and_description_when_asked_and_the_session_stays_in_negotiation()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var info = await client.GoAsync(NbdTestServer.Disk, Wire.OptInfo, Wire.InfoName, Wire.InfoDescription);

        var name = Assert.Single(info.Replies, r => r.Type == Wire.RepInfo && r.InfoType == Wire.InfoName);
        Assert.Equal(NbdTestServer.Disk, Encoding.UTF8.GetString(name.Data, 2, name.Data.Length - 2));
        var description = Assert.Single(info.Replies, r => r.Type == Wire.RepInfo && r.InfoType == Wire.InfoDescription);
        Assert.Equal(NbdTestServer.DiskDescription, Encoding.UTF8.GetString(description.Data, 2, description.Data.Length - 2));

        // INFO does not enter transmission: further options are still answered.
        Assert.Equal(Wire.RepAck, (await client.OptionAsync(Wire.OptList))[^1].Type);
        Assert.Equal(0, server.Catalog.OpenHandles);
    }

    [Theory]
    [InlineData(Wire.OptInfo)]
    [InlineData(Wire.OptGo)]
    public async Task Info_and_go_for_an_unknown_export_answer_unknown_and_the_session_continues(uint option)
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var reply = Assert.Single(await client.OptionAsync(option, RawNbdClient.InfoRequest("no-such-export")));

        Assert.Equal(Wire.RepErrUnknown, reply.Type);
        await client.GoAsync(NbdTestServer.Disk);
    }

    [Theory]
    [InlineData(Wire.OptInfo)]
    [InlineData(Wire.OptGo)]
    public async Task Info_and_go_with_malformed_data_answer_invalid(uint option)
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        var truncated = RawNbdClient.InfoRequest(NbdTestServer.Disk)[..^1];

        Assert.Equal(Wire.RepErrInvalid, Assert.Single(await client.OptionAsync(option, truncated)).Type);
        Assert.Equal(Wire.RepErrInvalid, Assert.Single(await client.OptionAsync(option, [0, 0, 0, 2, 0xc3, 0x28, 0, 0])).Type);
        await client.GoAsync(NbdTestServer.Disk);
    }

    [Theory]
    [InlineData(Wire.OptPeekExport)]
    [InlineData(Wire.OptExtendedHeaders)]
    [InlineData(12u)]
    [InlineData(0xdeadbeefu)]
    public async Task An_unknown_option_is_unsupported_and_the_session_continues(uint option)
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var reply = Assert.Single(await client.OptionAsync(option, "ignored"u8));

        Assert.Equal(Wire.RepErrUnsup, reply.Type);
        var export = await client.GoAsync(NbdTestServer.Disk);
        Assert.Equal((ulong)NbdTestServer.DiskBytes, export.SizeBytes);
    }

    [Fact]
    public async Task StartTls_on_a_server_without_tls_is_refused_by_policy_and_the_session_continues()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        Assert.Equal(Wire.RepErrPolicy, Assert.Single(await client.OptionAsync(Wire.OptStartTls)).Type);
        await client.GoAsync(NbdTestServer.Disk);
    }

    [Fact]
    public async Task Structured_reply_is_acknowledged_and_with_data_is_invalid()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        Assert.Equal(Wire.RepErrInvalid, Assert.Single(await client.OptionAsync(Wire.OptStructuredReply, [0])).Type);
        Assert.False(client.StructuredReplies);
        Assert.Equal(Wire.RepAck, Assert.Single(await client.OptionAsync(Wire.OptStructuredReply)).Type);
    }

    [Theory]
    [InlineData(Wire.OptListMetaContext)]
    [InlineData(Wire.OptSetMetaContext)]
    public async Task Meta_contexts_before_structured_replies_are_invalid(uint option)
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var reply = Assert.Single(await client.OptionAsync(option, RawNbdClient.MetaContextRequest(NbdTestServer.Disk, "base:allocation")));

        Assert.Equal(Wire.RepErrInvalid, reply.Type);
    }

    [Theory]
    [InlineData(Wire.OptListMetaContext, 0u, new string[0])]
    [InlineData(Wire.OptListMetaContext, 0u, new[] { "base:" })]
    [InlineData(Wire.OptListMetaContext, 0u, new[] { "base:allocation" })]
    [InlineData(Wire.OptSetMetaContext, 1u, new[] { "x-other:thing", "base:allocation" })]
    public async Task Meta_contexts_with_structured_replies_offer_base_allocation(uint option, uint expectedId, string[] queries)
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        await client.OptionAsync(Wire.OptStructuredReply);

        var replies = await client.OptionAsync(option, RawNbdClient.MetaContextRequest(NbdTestServer.Disk, queries));

        Assert.Equal([Wire.RepMetaContext, Wire.RepAck], replies.Select(r => r.Type));
        var context = replies[0].Data;
        Assert.Equal(expectedId, BinaryPrimitives.ReadUInt32BigEndian(context));
        Assert.Equal("base:allocation", Encoding.UTF8.GetString(context, 4, context.Length - 4));
    }

    [Theory]
    [InlineData(Wire.OptListMetaContext)]
    [InlineData(Wire.OptSetMetaContext)]
    public async Task Meta_context_queries_that_match_nothing_get_only_an_ack(uint option)
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        await client.OptionAsync(Wire.OptStructuredReply);

        var replies = await client.OptionAsync(option, RawNbdClient.MetaContextRequest(NbdTestServer.Disk, "qemu:dirty-bitmap:b0"));

        Assert.Equal(Wire.RepAck, Assert.Single(replies).Type);
    }

    [Fact]
    public async Task Meta_contexts_for_an_unknown_export_or_malformed_are_errors()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        await client.OptionAsync(Wire.OptStructuredReply);

        Assert.Equal(Wire.RepErrUnknown, Assert.Single(await client.OptionAsync(Wire.OptSetMetaContext, RawNbdClient.MetaContextRequest("nope", "base:allocation"))).Type);
        Assert.Equal(Wire.RepErrInvalid, Assert.Single(await client.OptionAsync(Wire.OptSetMetaContext, RawNbdClient.MetaContextRequest(NbdTestServer.Disk, "base:allocation").AsSpan()[..^2])).Type);
        await client.GoAsync(NbdTestServer.Disk);
    }

    [Theory]
    [InlineData(true, 10)]
    [InlineData(false, 134)]
    public async Task Export_name_replies_with_size_and_flags_and_zero_padding_unless_no_zeroes(bool noZeroes, int replyBytes)
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync(Wire.ClientFixedNewstyle | (noZeroes ? Wire.ClientNoZeroes : 0));

        await client.SendOptionAsync(Wire.OptExportName, Encoding.UTF8.GetBytes(NbdTestServer.Disk));
        var reply = await client.ReceiveExactlyAsync(replyBytes);

        Assert.Equal((ulong)NbdTestServer.DiskBytes, BinaryPrimitives.ReadUInt64BigEndian(reply));
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8)) & Wire.HasFlags);
        Assert.All(reply.Skip(10), b => Assert.Equal(0, b));

        // Exactly that many bytes: the next thing on the stream is the reply to our first request.
        var read = await client.ReadAsync(0, 512);
        Assert.Equal(0u, read.Errno);
        Assert.Equal(new byte[512], read.Data);
        Assert.Empty(await client.DisconnectAsync());
    }

    [Fact]
    public async Task Export_name_works_without_fixed_newstyle()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync(clientFlags: 0);

        await client.SendOptionAsync(Wire.OptExportName, Encoding.UTF8.GetBytes(NbdTestServer.Disk));

        Assert.Equal((ulong)NbdTestServer.DiskBytes, BinaryPrimitives.ReadUInt64BigEndian(await client.ReceiveExactlyAsync(134)));
        Assert.Equal(0u, (await client.ReadAsync(0, 512)).Errno);
    }

    [Fact]
    public async Task Abort_is_acknowledged_and_the_server_closes()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var reply = Assert.Single(await client.OptionAsync(Wire.OptAbort));

        Assert.Equal(Wire.RepAck, reply.Type);
        Assert.Empty(reply.Data);
        Assert.Empty(await client.WaitForCloseAsync());
        await server.AssertExportsReleasedAsync();
    }

    [Fact]
    public async Task Abort_from_a_client_that_does_not_wait_for_the_reply_is_harmless()
    {
        await using var server = NbdTestServer.Start();
        await using (var client = await server.ConnectAsync())
        {
            await client.StartHandshakeAsync();
            await client.SendOptionAsync(Wire.OptAbort);
            client.Reset();
        }

        await server.AssertStillServesAsync();
    }
}
