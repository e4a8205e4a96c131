// Pure logic of the SAS data path: the signature binds grant, volume, permissions, expiry, version
// and resource under a per-process secret; the VHD footer is a valid fixed-disk footer (cookie,
// sizes, CHS geometry of the specification, checksum).
using System.Buffers.Binary;
using System.Web;
using Ironclad.Compute.Access;

namespace Ironclad.Compute.Tests.Access;

public sealed class SasTokenAndFooterTests
{
    [Fact]
    public void A_signature_verifies_only_with_its_own_grant_volume_fields_and_secret()
    {
        using var signature = new SasSignature();
        var grant = Guid.NewGuid();
        var volume = Guid.NewGuid();
        var expires = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var query = HttpUtility.ParseQueryString(signature.QueryFor(grant, volume, DiskAccessLevel.Read, expires));
        var parameters = new SasParameters(query["sv"], query["sr"], query["sp"], query["se"], query["sig"]);
        Assert.Equal("2018-03-28", parameters.Version);
        Assert.Equal("b", parameters.Resource);
        Assert.Equal("r", parameters.Permissions);
        Assert.Equal("2030-01-02T03:04:05Z", parameters.Expiry);

        Assert.True(signature.Verify(grant, volume, parameters));
        Assert.False(signature.Verify(Guid.NewGuid(), volume, parameters));
        Assert.False(signature.Verify(grant, Guid.NewGuid(), parameters));
        Assert.False(signature.Verify(grant, volume, parameters with { Permissions = "rw" }));
        Assert.False(signature.Verify(grant, volume, parameters with { Expiry = "2030-01-02T03:04:06Z" }));
        Assert.False(signature.Verify(grant, volume, parameters with { Version = "2020-04-08" }));
        Assert.False(signature.Verify(grant, volume, parameters with { Resource = "c" }));
        Assert.False(signature.Verify(grant, volume, parameters with { Signature = null }));
        Assert.False(signature.Verify(grant, volume, parameters with { Signature = "not base64!" }));

        // Another process (another secret) cannot verify it: a restart ends every grant.
        using var restarted = new SasSignature();
        Assert.False(restarted.Verify(grant, volume, parameters));

        var write = HttpUtility.ParseQueryString(signature.QueryFor(grant, volume, DiskAccessLevel.Write, expires));
        Assert.Equal("rw", write["sp"]);
    }

    [Theory]
    [InlineData(1L << 30, 2080, 16, 63)]
    [InlineData(20L << 20, 602, 4, 17)]
    [InlineData(127L << 30, 65278, 16, 255)]
    [InlineData(2L << 40, 65535, 16, 255)]
    public void The_vhd_footer_is_a_fixed_disk_footer(long size, int cylinders, int heads, int sectors)
    {
        var volume = Guid.NewGuid();
        var footer = VhdFooter.Create(size, volume);
        Assert.Equal(512, footer.Length);
        Assert.True(VhdFooter.IsFooter(footer));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(footer.AsSpan(60)));
        Assert.Equal((ulong)size, BinaryPrimitives.ReadUInt64BigEndian(footer.AsSpan(40)));
        Assert.Equal((ulong)size, BinaryPrimitives.ReadUInt64BigEndian(footer.AsSpan(48)));
        Assert.Equal(cylinders, BinaryPrimitives.ReadUInt16BigEndian(footer.AsSpan(56)));
        Assert.Equal(heads, footer[58]);
        Assert.Equal(sectors, footer[59]);
        Assert.Equal(volume, new Guid(footer.AsSpan(68, 16), bigEndian: true));

        var stored = BinaryPrimitives.ReadUInt32BigEndian(footer.AsSpan(64));
        footer.AsSpan(64, 4).Clear();
        uint sum = 0;
        foreach (var b in footer)
        {
            sum += b;
        }

        Assert.Equal(~sum, stored);
        Assert.False(VhdFooter.IsFooter(new byte[512]));
    }
}
