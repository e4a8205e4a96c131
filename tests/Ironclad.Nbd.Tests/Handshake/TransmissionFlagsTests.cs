// The 16-bit transmission flags sent with NBD_INFO_EXPORT and the EXPORT_NAME reply
// (proto.md "Transmission flags"): what the server claims must match what it does.
using System.Buffers.Binary;
using System.Text;
using Ironclad.Nbd.Tests.Support;

namespace Ironclad.Nbd.Tests.Handshake;

public sealed class TransmissionFlagsTests
{
    private const ushort WriteFeatures = Wire.SendTrim | Wire.SendWriteZeroes | Wire.SendFastZero;

    [Fact]
    public async Task A_writable_export_advertises_flush_fua_trim_write_zeroes_fast_zero_and_cache()
    {
        await using var server = NbdTestServer.Start();
        var (client, export) = await server.OpenAsync(NbdTestServer.Disk);
        await using var _ = client;

        var flags = export.Flags;
        Assert.Equal(Wire.HasFlags | Wire.SendFlush | Wire.SendFua | Wire.SendCache | WriteFeatures, flags & (Wire.HasFlags | Wire.SendFlush | Wire.SendFua | Wire.SendCache | WriteFeatures));
        Assert.Equal(0, flags & Wire.ReadOnly);
        Assert.Equal(0, flags & Wire.SendResize); // not implemented, so not advertised
    }

    [Fact]
    public async Task A_read_only_export_sets_read_only_and_omits_trim_and_write_zeroes()
    {
        await using var server = NbdTestServer.Start();
        var (client, export) = await server.OpenAsync(NbdTestServer.ReadOnlyDisk);
        await using var _ = client;

        Assert.NotEqual(0, export.Flags & Wire.ReadOnly);
        Assert.Equal(0, export.Flags & WriteFeatures);
        Assert.NotEqual(0, export.Flags & Wire.SendFlush);
    }

    [Theory]
    [InlineData(NbdTestServer.Disk, true)]
    [InlineData(NbdTestServer.ReadOnlyDisk, false)]
    public async Task Can_multi_conn_follows_the_export(string name, bool expected)
    {
        await using var server = NbdTestServer.Start();
        var (client, export) = await server.OpenAsync(name);
        await using var _ = client;

        Assert.Equal(expected, (export.Flags & Wire.CanMultiConn) != 0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Send_df_is_set_only_with_structured_replies(bool structured)
    {
        await using var server = NbdTestServer.Start();
        var (client, export) = await server.OpenAsync(structured: structured);
        await using var _ = client;

        Assert.Equal(structured, (export.Flags & Wire.SendDf) != 0);
    }

    [Fact]
    public async Task Info_and_go_and_export_name_advertise_the_same_flags()
    {
        await using var server = NbdTestServer.Start();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        await client.OptionAsync(Wire.OptStructuredReply);

        var info = await client.GoAsync(NbdTestServer.ReadOnlyDisk, Wire.OptInfo);
        await client.SendOptionAsync(Wire.OptExportName, Encoding.UTF8.GetBytes(NbdTestServer.ReadOnlyDisk));
        var exportName = await client.ReceiveExactlyAsync(10);

        Assert.Equal(info.Flags, BinaryPrimitives.ReadUInt16BigEndian(exportName.AsSpan(8)));
        Assert.Equal(info.SizeBytes, BinaryPrimitives.ReadUInt64BigEndian(exportName));
    }
}
