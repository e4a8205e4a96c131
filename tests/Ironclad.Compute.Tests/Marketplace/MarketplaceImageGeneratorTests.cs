// The in-process image generator alone: each catalog image written to a sparse file passes the real
// tools (sfdisk, fsck.fat, mtype) and names itself; the output is deterministic and only metadata.
// Invariant: no server involved — a failure here is the generator's.
using Ironclad.Compute.Marketplace;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.Marketplace;

public sealed class MarketplaceImageGeneratorTests
{
    public static TheoryData<string> CatalogImages() => [.. MarketplaceImages.BuiltIn.Select(i => $"{i.Publisher}/{i.Offer}/{i.Sku}/{i.Version}")];

    [Theory]
    [MemberData(nameof(CatalogImages))]
    public async Task GeneratedImagePassesTheToolsAndNamesItself(string name)
    {
        var image = MarketplaceImages.BuiltIn.Single(i => $"{i.Publisher}/{i.Offer}/{i.Sku}/{i.Version}" == name);
        using var directory = new TempDirectory("ironclad-marketplace-gen");
        var path = directory.Combine("image.raw");
        var blocks = MarketplaceImageGenerator.Generate(image);
        await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            file.SetLength(image.SizeBytes);
            foreach (var block in blocks)
            {
                file.Position = block.OffsetBytes;
                await file.WriteAsync(block.Data, TestContext.Current.CancellationToken);
            }
        }

        Assert.Equal(image.SizeBytes, new FileInfo(path).Length);
        var text = await ImageChecks.AssertImageAsync(path, image.Publisher, image.Offer, image.Sku, image.Version);
        Assert.Equal(MarketplaceImageGenerator.MarkerText(image), text);
    }

    [Fact]
    public void OutputIsSmallDeterministicAndInsideTheImage()
    {
        var image = MarketplaceImages.BuiltIn[0];
        var first = MarketplaceImageGenerator.Generate(image);
        var second = MarketplaceImageGenerator.Generate(image);
        Assert.Equal(first.Count, second.Count);
        for (var i = 0; i < first.Count; i++)
        {
            Assert.Equal(first[i].OffsetBytes, second[i].OffsetBytes);
            Assert.Equal(first[i].Data, second[i].Data);
        }

        var written = first.Sum(b => (long)b.Data.Length);
        Assert.True(written < 1 << 20, $"the generator wrote {written} bytes: only metadata should be written");
        Assert.All(first, b => Assert.InRange(b.OffsetBytes + b.Data.Length, 1, image.SizeBytes));
        var other = MarketplaceImageGenerator.Generate(MarketplaceImages.BuiltIn[1]);
        Assert.NotEqual(first[1].Data, other[1].Data); // another version: another disk GUID and CRC
    }

    [Fact]
    public void LatestResolvesToTheNewestVersionAndUnknownNamesAreRefusedNamingWhatExists()
    {
        using var directory = new TempDirectory("ironclad-marketplace-catalog");
        var database = Ironclad.Metadata.MetadataDatabase.Open(directory.Combine("metadata.db"));
        using var store = Ironclad.Storage.VolumeStore.Open(directory.Combine("volumes"));
        var images = new MarketplaceImages(database, store, () => throw new InvalidOperationException("no keys in this test"),
            () => throw new InvalidOperationException("no keys in this test"), TimeProvider.System);
        Assert.Equal("24.04.202611", images.Resolve(new("canonical", "UBUNTU-24_04-LTS", "server", "latest")).Version);
        Assert.Equal("1.1.0", images.Resolve(new("Ironclad", "minimal", "v1", "latest")).Version);
        Assert.Equal("1.0.0", images.Resolve(new("Ironclad", "minimal", "v1", "1.0.0")).Version);
        var missing = Assert.Throws<Ironclad.ResourceManager.Providers.ArmException>(() => images.Resolve(new("Ironclad", "minimal", "v1", "9.9.9")));
        Assert.Equal(404, missing.StatusCode);
        Assert.Equal("PlatformImageNotFound", missing.Code);
        Assert.Contains("1.0.0, 1.1.0", missing.Message, StringComparison.Ordinal);
        var publisher = Assert.Throws<Ironclad.ResourceManager.Providers.ArmException>(() => images.Resolve(new("Contoso", "x", "y", "latest")));
        Assert.Contains("Canonical, Ironclad", publisher.Message, StringComparison.Ordinal);
    }
}
