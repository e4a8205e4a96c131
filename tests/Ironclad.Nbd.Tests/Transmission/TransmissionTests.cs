// The transmission phase with well-behaved clients (proto.md "Transmission", "Request types").
using System.Buffers.Binary;
using Ironclad.Nbd.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Nbd.Tests.Transmission;

public sealed class TransmissionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Written_data_reads_back(bool structured)
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(structured: structured);
        await using var _ = client;
        var data = RandomBytes(new Random(Seeds.FromEnvironmentOrRandom()), 3 * 4096 + 100);

        Assert.Equal(0u, (await client.WriteAsync(5000, data)).Errno);
        var read = await client.ReadAsync(5000, (uint)data.Length);

        Assert.Equal(0u, read.Errno);
        Assert.Equal(data, read.Data);
        Assert.Equal(data, server.Catalog[NbdTestServer.Disk].Snapshot(5000, data.Length));
        Assert.Empty(await client.DisconnectAsync());
    }

    [Fact]
    public async Task A_structured_read_is_one_offset_data_chunk_with_done_and_the_offset()
    {
        await using var server = NbdTestServer.Start();
        server.Catalog[NbdTestServer.Disk].Fill(8192, "hello, nbd"u8);
        var (client, _) = await server.OpenAsync(structured: true);
        await using var _ = client;

        var read = await client.ReadAsync(8192, 10, Wire.CmdFlagDf);

        Assert.True(read.Structured);
        Assert.Equal(Wire.ReplyTypeOffsetData, read.Type);
        Assert.Equal(Wire.ReplyFlagDone, read.Flags);
        Assert.Equal(18, read.Payload.Length);
        Assert.Equal(8192ul, read.DataOffset);
        Assert.Equal("hello, nbd"u8.ToArray(), read.Data);
    }

    [Fact]
    public async Task A_large_write_and_read_round_trip()
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;
        var data = RandomBytes(new Random(Seeds.FromEnvironmentOrRandom()), (int)NbdTestServer.DiskBytes);

        Assert.Equal(0u, (await client.WriteAsync(0, data, Wire.CmdFlagFua)).Errno);

        Assert.Equal(data, (await client.ReadAsync(0, (uint)data.Length)).Data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Pipelined_requests_are_all_answered_and_matched_by_cookie(bool structured)
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(structured: structured);
        await using var _ = client;
        var random = new Random(Seeds.FromEnvironmentOrRandom());
        const int Slots = 64;
        const int SlotBytes = 16 * 1024;
        var expected = new byte[Slots][];
        var readLengths = new Dictionary<ulong, int>();
        var readSlots = new Dictionary<ulong, int>();
        var outstanding = new HashSet<ulong>();

        // Writes first (each to its own slot, sizes from 1 byte to a whole slot), then reads of every slot, all without waiting.
        var requests = new List<byte>();
        for (var slot = 0; slot < Slots; slot++)
        {
            var data = RandomBytes(random, random.Next(1, SlotBytes + 1));
            expected[slot] = data;
            var cookie = client.NextCookie();
            outstanding.Add(cookie);
            requests.AddRange(RawNbdClient.Request(0, Wire.CmdWrite, cookie, (ulong)(slot * SlotBytes), (uint)data.Length));
            requests.AddRange(data);
        }

        var sender = client.SendAsync(requests.ToArray());
        await ReadRepliesAsync(client, outstanding, readLengths, (reply, _) => Assert.Equal(0u, reply.Errno));
        await sender;

        requests.Clear();
        for (var slot = 0; slot < Slots; slot++)
        {
            var cookie = client.NextCookie();
            outstanding.Add(cookie);
            readLengths[cookie] = expected[slot].Length;
            readSlots[cookie] = slot;
            requests.AddRange(RawNbdClient.Request(0, Wire.CmdRead, cookie, (ulong)(slot * SlotBytes), (uint)expected[slot].Length));
        }

        sender = client.SendAsync(requests.ToArray());
        await ReadRepliesAsync(client, outstanding, readLengths, (reply, cookie) =>
        {
            Assert.Equal(0u, reply.Errno);
            Assert.Equal(expected[readSlots[cookie]], reply.Data);
        });
        await sender;
        Assert.Empty(await client.DisconnectAsync());
    }

    [Fact]
    public async Task Concurrent_connections_with_deep_mixed_pipelines_each_get_their_own_data()
    {
        // Sizes straddle the server's inline/worker split, so replies interleave and come back out of
        // order; every byte is checked, which catches pooled buffers handed to the wrong request.
        const int Connections = 4;
        const int Slots = 24;
        const int SlotBytes = 160 * 1024;
        const long RegionBytes = Slots * SlotBytes;
        var catalog = new MemoryCatalog().Add(NbdTestServer.Disk, new MemoryExport(Connections * RegionBytes));
        await using var server = NbdTestServer.Start(catalog: catalog);
        var seed = Seeds.FromEnvironmentOrRandom();

        await Task.WhenAll(Enumerable.Range(0, Connections).Select(async c =>
        {
            var random = new Random(seed + c);
            var (client, _) = await server.OpenAsync(structured: c % 2 == 0);
            await using var _ = client;
            var region = c * RegionBytes;
            var expected = new byte[Slots][];
            var outstanding = new HashSet<ulong>();
            var requests = new List<byte>();
            for (var slot = 0; slot < Slots; slot++)
            {
                expected[slot] = RandomBytes(random, random.Next(1, SlotBytes + 1));
                var cookie = client.NextCookie();
                outstanding.Add(cookie);
                var flags = random.Next(4) == 0 ? Wire.CmdFlagFua : (ushort)0;
                requests.AddRange(RawNbdClient.Request(flags, Wire.CmdWrite, cookie, (ulong)(region + (slot * SlotBytes)), (uint)expected[slot].Length));
                requests.AddRange(expected[slot]);
                if (slot % 8 == 7)
                {
                    var flush = client.NextCookie();
                    outstanding.Add(flush);
                    requests.AddRange(RawNbdClient.Request(0, Wire.CmdFlush, flush, 0, 0));
                }
            }

            var sending = client.SendAsync(requests.ToArray());
            await ReadRepliesAsync(client, outstanding, new Dictionary<ulong, int>(), (reply, _) => Assert.Equal(0u, reply.Errno));
            await sending;

            requests.Clear();
            var lengths = new Dictionary<ulong, int>();
            var slots = new Dictionary<ulong, int>();
            foreach (var slot in Enumerable.Range(0, Slots).OrderBy(_ => random.Next()))
            {
                var cookie = client.NextCookie();
                outstanding.Add(cookie);
                lengths[cookie] = expected[slot].Length;
                slots[cookie] = slot;
                requests.AddRange(RawNbdClient.Request(0, Wire.CmdRead, cookie, (ulong)(region + (slot * SlotBytes)), (uint)expected[slot].Length));
            }

            sending = client.SendAsync(requests.ToArray());
            await ReadRepliesAsync(client, outstanding, lengths, (reply, cookie) =>
            {
                Assert.Equal(0u, reply.Errno);
                Assert.True(expected[slots[cookie]].AsSpan().SequenceEqual(reply.Data), $"connection {c}: wrong data for slot {slots[cookie]}");
            });
            await sending;
            Assert.Empty(await client.DisconnectAsync());
        }));

        await server.AssertExportsReleasedAsync();
    }

    [Fact]
    public async Task A_slow_large_read_does_not_hold_back_the_replies_to_later_ones()
    {
        // Large requests run on worker threads; replies go out in completion order, matched by cookie.
        // (Small reads and writes run inline on the connection's reader, so they are answered in order.)
        const uint Length = 256 * 1024;
        await using var server = NbdTestServer.Start();
        using var gate = new ManualResetEventSlim();
        server.Catalog[NbdTestServer.Disk].BeforeOperation = (operation, offset, _) =>
        {
            if (operation == "Read" && offset == 0)
            {
                gate.Wait(TimeSpan.FromSeconds(20));
            }
        };
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        await client.SendRequestAsync(0, Wire.CmdRead, 1, 0, Length);
        await client.SendRequestAsync(0, Wire.CmdRead, 2, Length, Length);
        var first = await client.ReadReplyAsync(_ => (int)Length);
        gate.Set();
        var second = await client.ReadReplyAsync(_ => (int)Length);

        Assert.Equal(2ul, first.Cookie);
        Assert.Equal(1ul, second.Cookie);
    }

    [Fact]
    public async Task With_queue_depth_one_pipelined_requests_are_still_all_answered()
    {
        await using var server = NbdTestServer.Start(o => o with { QueueDepthMax = 1 });
        var (client, _) = await server.OpenAsync();
        await using var _ = client;
        var cookies = Enumerable.Range(0, 20).Select(_ => client.NextCookie()).ToHashSet();

        await client.SendAsync(cookies.SelectMany(c => RawNbdClient.Request(0, Wire.CmdRead, c, c % 200 * 512, 512)).ToArray());

        await ReadRepliesAsync(client, cookies, cookies.ToDictionary(c => c, _ => 512), (reply, _) => Assert.Equal(0u, reply.Errno));
    }

    [Fact]
    public async Task Small_requests_sent_together_with_a_disconnect_are_all_answered_before_the_close()
    {
        // The reader runs small reads itself and corks their replies while more requests are
        // buffered; NBD_CMD_DISC in the same segment must not strand the corked replies.
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(structured: true);
        await using var _ = client;
        var cookies = Enumerable.Range(0, 40).Select(_ => client.NextCookie()).ToHashSet();
        var requests = cookies.SelectMany(c => RawNbdClient.Request(0, Wire.CmdRead, c, c % 100 * 4096, 4096))
            .Concat(RawNbdClient.Request(0, Wire.CmdDisc, client.NextCookie(), 0, 0));

        await client.SendAsync(requests.ToArray());

        await ReadRepliesAsync(client, cookies, cookies.ToDictionary(c => c, _ => 4096), (reply, _) => Assert.Equal(0u, reply.Errno));
        Assert.Empty(await client.WaitForCloseAsync());
    }

    [Fact]
    public async Task Flush_succeeds_and_reaches_the_export()
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        Assert.Equal(0u, (await client.RequestAsync(Wire.CmdFlush, 0, 0)).Errno);
        Assert.Equal(1, server.Catalog[NbdTestServer.Disk].FlushCount);
    }

    [Fact]
    public async Task Trim_makes_whole_blocks_holes_that_read_as_zeros()
    {
        await using var server = NbdTestServer.Start();
        var disk = server.Catalog[NbdTestServer.Disk];
        disk.Fill(0, Enumerable.Repeat((byte)0xAB, 16384).ToArray());
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        Assert.Equal(0u, (await client.RequestAsync(Wire.CmdTrim, 4096, 8192, Wire.CmdFlagFua)).Errno);

        Assert.Equal(2, disk.AllocatedBlocks);
        var read = await client.ReadAsync(0, 16384);
        Assert.All(read.Data[..4096], b => Assert.Equal(0xAB, b));
        Assert.All(read.Data[4096..12288], b => Assert.Equal(0, b));
        Assert.All(read.Data[12288..], b => Assert.Equal(0xAB, b));
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 4)]
    public async Task Write_zeroes_zeroes_the_range_and_with_no_hole_keeps_it_allocated(bool noHole, int allocatedAfter)
    {
        await using var server = NbdTestServer.Start();
        var disk = server.Catalog[NbdTestServer.Disk];
        disk.Fill(0, Enumerable.Repeat((byte)0xCD, 16384).ToArray());
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        var reply = await client.RequestAsync(Wire.CmdWriteZeroes, 4096, 8192, noHole ? Wire.CmdFlagNoHole : (ushort)0);

        Assert.Equal(0u, reply.Errno);
        Assert.Equal(allocatedAfter, disk.AllocatedBlocks);
        Assert.Equal(new byte[8192], (await client.ReadAsync(4096, 8192)).Data);
    }

    [Fact]
    public async Task Fast_zero_succeeds_when_the_export_zeroes_fast()
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        Assert.Equal(0u, (await client.RequestAsync(Wire.CmdWriteZeroes, 0, 65536, Wire.CmdFlagFastZero)).Errno);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Fast_zero_fails_with_enotsup_when_zeroing_is_not_fast_and_changes_nothing(bool structured)
    {
        await using var server = NbdTestServer.Start();
        var disk = server.Catalog[NbdTestServer.SlowZeroDisk];
        disk.Fill(0, [1, 2, 3]);
        var (client, _) = await server.OpenAsync(NbdTestServer.SlowZeroDisk, structured);
        await using var _ = client;

        var reply = await client.RequestAsync(Wire.CmdWriteZeroes, 0, 4096, Wire.CmdFlagFastZero);

        Assert.Equal(Wire.ENOTSUP, reply.Errno);
        Assert.Equal(structured, reply.Structured);
        Assert.Equal(new byte[] { 1, 2, 3 }, disk.Snapshot(0, 3));
        Assert.Equal(0u, (await client.RequestAsync(Wire.CmdWriteZeroes, 0, 4096)).Errno); // without FAST_ZERO it is done, slowly
    }

    [Fact]
    public async Task Cache_succeeds()
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync();
        await using var _ = client;

        Assert.Equal(0u, (await client.RequestAsync(Wire.CmdCache, 0, 65536)).Errno);
    }

    [Fact]
    public async Task Block_status_reports_base_allocation_extents_covering_exactly_the_requested_range()
    {
        await using var server = NbdTestServer.Start();
        server.Catalog[NbdTestServer.Disk].Fill(65536, new byte[65536]);
        var (client, _) = await server.OpenAsync(baseAllocation: true);
        await using var _ = client;

        var reply = await client.RequestAsync(Wire.CmdBlockStatus, 0, 256 * 1024);

        Assert.Equal(0u, reply.Errno);
        Assert.Equal(Wire.ReplyTypeBlockStatus, reply.Type);
        Assert.Equal(Wire.ReplyFlagDone, reply.Flags);
        var (id, extents) = ParseBlockStatus(reply.Payload);
        Assert.Equal(1u, id);
        Assert.Equal(
            [(65536u, Wire.StateHole | Wire.StateZero), (65536u, 0u), (131072u, Wire.StateHole | Wire.StateZero)],
            extents);
    }

    [Theory]
    [InlineData(1000u, 5000u)]
    [InlineData(65535u, 2u)]
    [InlineData(0u, 1u)]
    [InlineData(4096u * 255, 4096u)]
    public async Task Block_status_of_an_unaligned_range_sums_to_its_length(uint offset, uint length)
    {
        await using var server = NbdTestServer.Start();
        server.Catalog[NbdTestServer.Disk].Fill(4096, new byte[4096]);
        server.Catalog[NbdTestServer.Disk].Fill(65536, new byte[1]);
        var (client, _) = await server.OpenAsync(baseAllocation: true);
        await using var _ = client;

        var reply = await client.RequestAsync(Wire.CmdBlockStatus, offset, length);

        var (_, extents) = ParseBlockStatus(reply.Payload);
        Assert.Equal(length, (uint)extents.Sum(e => e.Length));
        Assert.All(extents, e => Assert.NotEqual(0u, e.Length));
    }

    [Fact]
    public async Task Block_status_with_req_one_returns_exactly_one_extent()
    {
        await using var server = NbdTestServer.Start();
        server.Catalog[NbdTestServer.Disk].Fill(65536, new byte[65536]);
        var (client, _) = await server.OpenAsync(baseAllocation: true);
        await using var _ = client;

        var reply = await client.RequestAsync(Wire.CmdBlockStatus, 0, 256 * 1024, Wire.CmdFlagReqOne);

        var (_, extents) = ParseBlockStatus(reply.Payload);
        Assert.Equal([(65536u, Wire.StateHole | Wire.StateZero)], extents);
    }

    [Fact]
    public async Task Block_status_over_many_small_extents_stops_short_but_never_overshoots()
    {
        const long Bytes = 16 << 20;
        var big = new MemoryExport(Bytes);
        for (var block = 0L; block < Bytes / 4096; block += 2)
        {
            big.Fill(block * 4096, [1]);
        }

        await using var server = NbdTestServer.Start(catalog: new MemoryCatalog().Add("big", big));
        var (client, _) = await server.OpenAsync("big", baseAllocation: true);
        await using var _ = client;

        var (_, extents) = ParseBlockStatus((await client.RequestAsync(Wire.CmdBlockStatus, 0, (uint)Bytes)).Payload);

        // 4096 alternating extents exist; the server may stop early (the client asks again), but must describe a prefix exactly.
        Assert.InRange(extents.Count, 1, 4096);
        Assert.True(extents.Sum(e => (long)e.Length) <= Bytes);
        Assert.All(extents, e => Assert.Equal(4096u, e.Length));
        Assert.Equal(Enumerable.Range(0, extents.Count).Select(i => i % 2 == 0 ? 0u : 3u), extents.Select(e => e.State));
    }

    [Fact]
    public async Task Block_status_without_a_selected_context_is_invalid()
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(structured: true);
        await using var _ = client;

        var reply = await client.RequestAsync(Wire.CmdBlockStatus, 0, 4096);

        Assert.Equal(Wire.EINVAL, reply.Errno);
    }

    [Fact]
    public async Task Block_status_after_selecting_contexts_for_another_export_is_invalid()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        await client.OptionAsync(Wire.OptStructuredReply);
        await client.OptionAsync(Wire.OptSetMetaContext, RawNbdClient.MetaContextRequest(NbdTestServer.ReadOnlyDisk, "base:allocation"));
        await client.GoAsync(NbdTestServer.Disk);

        Assert.Equal(Wire.EINVAL, (await client.RequestAsync(Wire.CmdBlockStatus, 0, 4096)).Errno);
    }

    [Fact]
    public async Task Structured_errors_carry_the_errno_and_a_message()
    {
        await using var server = NbdTestServer.Start();
        var (client, _) = await server.OpenAsync(structured: true);
        await using var _ = client;

        var reply = await client.ReadAsync((ulong)NbdTestServer.DiskBytes, 512);

        Assert.Equal(Wire.ReplyTypeError, reply.Type);
        Assert.Equal(Wire.ReplyFlagDone, reply.Flags);
        Assert.Equal(Wire.EINVAL, reply.Errno);
        Assert.NotEmpty(reply.ErrorMessage);
        Assert.Equal(6 + reply.ErrorMessage.Length, reply.Payload.Length);
    }

    [Fact]
    public async Task Two_connections_to_one_export_see_each_others_writes()
    {
        await using var server = NbdTestServer.Start();
        var (writer, _) = await server.OpenAsync();
        var (reader, _) = await server.OpenAsync(structured: true);
        await using var _ = writer;
        await using var __ = reader;

        await writer.WriteAsync(512, "shared"u8.ToArray(), Wire.CmdFlagFua);

        Assert.Equal("shared"u8.ToArray(), (await reader.ReadAsync(512, 6)).Data);
        Assert.Equal(2, server.Catalog.OpenHandles);
        await writer.DisconnectAsync();
        await reader.DisconnectAsync();
        await server.AssertExportsReleasedAsync();
    }

    internal static (uint ContextId, List<(uint Length, uint State)> Extents) ParseBlockStatus(byte[] payload)
    {
        Assert.True(payload.Length >= 12 && (payload.Length - 4) % 8 == 0, $"block status payload of {payload.Length} bytes");
        var extents = new List<(uint, uint)>();
        for (var at = 4; at < payload.Length; at += 8)
        {
            extents.Add((BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(at)), BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(at + 4))));
        }

        return (BinaryPrimitives.ReadUInt32BigEndian(payload), extents);
    }

    internal static async Task ReadRepliesAsync(RawNbdClient client, HashSet<ulong> outstanding, IReadOnlyDictionary<ulong, int> readLengths, Action<Reply, ulong> check)
    {
        while (outstanding.Count > 0)
        {
            var reply = await client.ReadReplyAsync(c => readLengths.GetValueOrDefault(c));
            Assert.True(outstanding.Remove(reply.Cookie), $"reply for unknown or already answered cookie {reply.Cookie}");
            Assert.True(reply.IsDone);
            check(reply, reply.Cookie);
        }
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
