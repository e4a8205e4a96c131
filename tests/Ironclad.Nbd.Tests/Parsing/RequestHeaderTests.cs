// RequestHeader.TryParse: the 28-byte request header (proto.md "Request message").
using Ironclad.Nbd.Protocol;
using Ironclad.Nbd.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Nbd.Tests.Parsing;

public sealed class RequestHeaderTests
{
    private static readonly byte[] Sample =
    [
        0x25, 0x60, 0x95, 0x13, // NBD_REQUEST_MAGIC
        0x00, 0x09,             // flags: FUA | REQ_ONE
        0x00, 0x07,             // NBD_CMD_BLOCK_STATUS
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // cookie
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00, // offset 2^32 + 4096
        0xff, 0xff, 0xff, 0xfe, // length
    ];

    [Fact]
    public void A_valid_header_parses_field_by_field_big_endian()
    {
        Assert.True(RequestHeader.TryParse(Sample, out var header));

        Assert.Equal(CommandFlags.Fua | CommandFlags.RequestOne, header.Flags);
        Assert.Equal(NbdCommand.BlockStatus, header.Command);
        Assert.Equal(0x0102030405060708ul, header.Cookie);
        Assert.Equal((1ul << 32) + 4096, header.OffsetBytes);
        Assert.Equal(0xfffffffeu, header.LengthBytes);
    }

    [Fact]
    public void Write_produces_the_bytes_parse_read()
    {
        Assert.True(RequestHeader.TryParse(Sample, out var header));
        var written = new byte[RequestHeader.SizeBytes];

        RequestHeader.Write(written, header);

        Assert.Equal(Sample, written);
    }

    [Fact]
    public void The_test_client_and_the_server_agree_on_the_layout()
    {
        var bytes = RawNbdClient.Request(Wire.CmdFlagDf, Wire.CmdRead, ulong.MaxValue, 12345, 512);

        Assert.True(RequestHeader.TryParse(bytes, out var header));
        Assert.Equal(new RequestHeader(CommandFlags.DontFragment, NbdCommand.Read, ulong.MaxValue, 12345, 512), header);
    }

    [Fact]
    public void Unknown_commands_and_flags_still_parse_so_the_server_can_answer_EINVAL()
    {
        var bytes = RawNbdClient.Request(0xffff, 0xfffe, 1, 0, 0);

        Assert.True(RequestHeader.TryParse(bytes, out var header));
        Assert.Equal((NbdCommand)0xfffe, header.Command);
        Assert.Equal((CommandFlags)0xffff, header.Flags);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(27)]
    public void A_truncated_header_is_rejected(int length)
    {
        Assert.False(RequestHeader.TryParse(Sample.AsSpan(0, length), out var header));
        Assert.Equal(default, header);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_wrong_magic_is_rejected(int corruptByte)
    {
        var bytes = Sample.ToArray();
        bytes[corruptByte] ^= 0x01;

        Assert.False(RequestHeader.TryParse(bytes, out _));
    }

    [Fact]
    public void Bytes_after_the_header_are_ignored()
    {
        Assert.True(RequestHeader.TryParse([.. Sample, 1, 2, 3], out var header));
        Assert.Equal(0xfffffffeu, header.LengthBytes);
    }

    [Fact]
    public void Random_bytes_never_throw_and_parse_exactly_when_the_magic_is_there()
    {
        var random = new Random(Seeds.FromEnvironmentOrRandom());
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 40)];
            random.NextBytes(bytes);
            if (bytes.Length >= 4 && random.Next(2) == 0)
            {
                Sample.AsSpan(0, 4).CopyTo(bytes);
            }

            var parsed = RequestHeader.TryParse(bytes, out _);

            Assert.Equal(bytes.Length >= 28 && bytes.AsSpan(0, 4).SequenceEqual(Sample.AsSpan(0, 4)), parsed);
        }
    }
}
