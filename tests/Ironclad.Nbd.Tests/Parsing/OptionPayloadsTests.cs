// OptionPayloads: the data of EXPORT_NAME, INFO/GO and LIST/SET_META_CONTEXT. Strings follow the
// spec's "Conventions": UTF-8, no NUL, at most 4096 bytes.
using System.Buffers.Binary;
using System.Text;
using Ironclad.Nbd.Protocol;
using Ironclad.Nbd.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Nbd.Tests.Parsing;

public sealed class OptionPayloadsTests
{
    public static TheoryData<byte[]> MalformedStrings() => new(
        [(byte)'a', 0, (byte)'b'],      // NUL
        [0],
        [0xc3, 0x28],                   // invalid continuation
        [0xc0, 0x80],                   // overlong NUL
        [0xed, 0xa0, 0x80],             // UTF-16 surrogate
        [0xf4, 0x90, 0x80, 0x80],       // beyond U+10FFFF
        [0xe2, 0x82],                   // truncated sequence
        [0xff]);

    [Theory]
    [InlineData("")]
    [InlineData("disk")]
    [InlineData("диск/☃/𝄞")]
    public void Export_name_accepts_valid_utf8(string name)
    {
        Assert.True(OptionPayloads.TryParseExportName(Encoding.UTF8.GetBytes(name), out var parsed));
        Assert.Equal(name, parsed);
    }

    [Theory]
    [MemberData(nameof(MalformedStrings))]
    public void Export_name_rejects_nul_and_invalid_utf8(byte[] name)
    {
        Assert.False(OptionPayloads.TryParseExportName(name, out _));
    }

    [Fact]
    public void Export_name_allows_4096_bytes_and_no_more()
    {
        Assert.True(OptionPayloads.TryParseExportName(new byte[4096].Select(_ => (byte)'x').ToArray(), out var name));
        Assert.Equal(4096, name.Length);
        Assert.False(OptionPayloads.TryParseExportName(new byte[4097].Select(_ => (byte)'x').ToArray(), out _));

        // 4095 bytes + a 2-byte character = 4097 bytes, although only 4096 characters.
        Assert.False(OptionPayloads.TryParseExportName(Encoding.UTF8.GetBytes(new string('x', 4095) + "é"), out _));
    }

    [Fact]
    public void Info_request_parses_name_and_requested_infos()
    {
        var data = RawNbdClient.InfoRequest("disk", Wire.InfoName, Wire.InfoBlockSize, 0x7777);

        Assert.True(OptionPayloads.TryParseInfoRequest(data, out var name, out var requested));

        Assert.Equal("disk", name);
        Assert.Equal([InfoType.Name, InfoType.BlockSize, (InfoType)0x7777], requested);
    }

    [Fact]
    public void Info_request_with_no_infos_and_the_default_export_name_is_valid()
    {
        Assert.True(OptionPayloads.TryParseInfoRequest(RawNbdClient.InfoRequest(""), out var name, out var requested));
        Assert.Equal("", name);
        Assert.Empty(requested);
    }

    [Fact]
    public void Info_request_rejects_every_truncation_and_any_trailing_byte()
    {
        var data = RawNbdClient.InfoRequest("disk", Wire.InfoName, Wire.InfoDescription);
        for (var length = 0; length < data.Length; length++)
        {
            Assert.False(OptionPayloads.TryParseInfoRequest(data.AsSpan(0, length), out _, out _), $"accepted a {length}-byte prefix");
        }

        Assert.False(OptionPayloads.TryParseInfoRequest([.. data, 0], out _, out _));
    }

    [Theory]
    [InlineData(5u)]        // longer than what follows
    [InlineData(4097u)]     // longer than any string may be
    [InlineData(uint.MaxValue)]
    public void Info_request_rejects_a_name_length_that_does_not_fit(uint declared)
    {
        var data = RawNbdClient.InfoRequest("disk");
        BinaryPrimitives.WriteUInt32BigEndian(data, declared);

        Assert.False(OptionPayloads.TryParseInfoRequest(data, out _, out _));
    }

    [Fact]
    public void Info_request_rejects_a_count_that_disagrees_with_the_data()
    {
        var data = RawNbdClient.InfoRequest("disk", Wire.InfoName);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(8), 2);
        Assert.False(OptionPayloads.TryParseInfoRequest(data, out _, out _));

        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(8), ushort.MaxValue);
        Assert.False(OptionPayloads.TryParseInfoRequest(data, out _, out _));
    }

    [Theory]
    [MemberData(nameof(MalformedStrings))]
    public void Info_request_rejects_a_malformed_name(byte[] name)
    {
        byte[] data = [0, 0, 0, (byte)name.Length, .. name, 0, 0];

        Assert.False(OptionPayloads.TryParseInfoRequest(data, out _, out _));
    }

    [Fact]
    public void Meta_context_request_parses_export_and_queries()
    {
        var data = RawNbdClient.MetaContextRequest("disk", "base:allocation", "", "x-test:☃");

        Assert.True(OptionPayloads.TryParseMetaContextRequest(data, out var export, out var queries));

        Assert.Equal("disk", export);
        Assert.Equal(["base:allocation", "", "x-test:☃"], queries);
    }

    [Fact]
    public void Meta_context_request_with_no_queries_is_valid()
    {
        Assert.True(OptionPayloads.TryParseMetaContextRequest(RawNbdClient.MetaContextRequest("disk"), out _, out var queries));
        Assert.Empty(queries);
    }

    [Fact]
    public void Meta_context_request_rejects_every_truncation_and_any_trailing_byte()
    {
        var data = RawNbdClient.MetaContextRequest("disk", "base:allocation", "base:");
        for (var length = 0; length < data.Length; length++)
        {
            Assert.False(OptionPayloads.TryParseMetaContextRequest(data.AsSpan(0, length), out _, out _), $"accepted a {length}-byte prefix");
        }

        Assert.False(OptionPayloads.TryParseMetaContextRequest([.. data, 0], out _, out _));
    }

    [Fact]
    public void Meta_context_request_allows_64_queries_and_no_more()
    {
        Assert.Equal(64, OptionPayloads.QueriesMax);
        var queries = Enumerable.Range(0, 65).Select(i => $"x-q:{i}").ToArray();

        Assert.True(OptionPayloads.TryParseMetaContextRequest(RawNbdClient.MetaContextRequest("disk", queries[..64]), out _, out var parsed));
        Assert.Equal(64, parsed.Length);
        Assert.False(OptionPayloads.TryParseMetaContextRequest(RawNbdClient.MetaContextRequest("disk", queries), out _, out _));
    }

    [Fact]
    public void Meta_context_request_with_a_huge_query_count_is_rejected_without_reading_on()
    {
        byte[] data = [.. RawNbdClient.MetaContextRequest("disk"), 0, 0, 0, 1, (byte)'x'];
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(8), uint.MaxValue);

        Assert.False(OptionPayloads.TryParseMetaContextRequest(data, out _, out _));
    }

    [Theory]
    [MemberData(nameof(MalformedStrings))]
    public void Meta_context_request_rejects_a_malformed_query_or_export_name(byte[] text)
    {
        byte[] badQuery = [.. RawNbdClient.MetaContextRequest("disk").AsSpan(0, 8), 0, 0, 0, 1, 0, 0, 0, (byte)text.Length, .. text];
        byte[] badName = [0, 0, 0, (byte)text.Length, .. text, 0, 0, 0, 0];

        Assert.False(OptionPayloads.TryParseMetaContextRequest(badQuery, out _, out _));
        Assert.False(OptionPayloads.TryParseMetaContextRequest(badName, out _, out _));
    }

    [Fact]
    public void Meta_context_request_rejects_an_overlong_query()
    {
        Assert.True(OptionPayloads.TryParseMetaContextRequest(RawNbdClient.MetaContextRequest("disk", new string('q', 4096)), out _, out _));
        Assert.False(OptionPayloads.TryParseMetaContextRequest(RawNbdClient.MetaContextRequest("disk", new string('q', 4097)), out _, out _));
    }

    [Fact]
    public void Random_and_mutated_payloads_never_throw()
    {
        var random = new Random(Seeds.FromEnvironmentOrRandom());
        byte[][] seeds =
        [
            RawNbdClient.InfoRequest("disk", Wire.InfoName, Wire.InfoBlockSize),
            RawNbdClient.MetaContextRequest("disk", "base:allocation", "base:"),
            "disk"u8.ToArray(),
            [],
        ];
        for (var i = 0; i < 20_000; i++)
        {
            var input = i % 2 == 0 ? Mutations.RandomBytes(random, 64) : Mutations.Mutate(random, seeds[random.Next(seeds.Length)]);

            var nameParsed = OptionPayloads.TryParseExportName(input, out var name);
            var infoParsed = OptionPayloads.TryParseInfoRequest(input, out var infoName, out var requested);
            var metaParsed = OptionPayloads.TryParseMetaContextRequest(input, out var export, out var queries);

            // Outputs are never null and never exceed the limits, whatever the result.
            Assert.True(nameParsed || name.Length == 0);
            Assert.True(infoParsed || requested.Length == 0);
            Assert.NotNull(infoName);
            Assert.NotNull(export);
            Assert.True(queries.Length <= OptionPayloads.QueriesMax);
            Assert.True(!metaParsed || queries.All(q => q is not null));
        }
    }
}
