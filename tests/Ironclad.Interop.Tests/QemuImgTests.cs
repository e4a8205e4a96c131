// qemu-img against the real `ironclad dev serve-scratch` process: the export's size as qemu sees
// it, and a seeded random raw image copied into the export and back out, byte for byte.
using Ironclad.Interop.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Interop.Tests;

public sealed class QemuImgTests
{
    private const int ImageBytes = 32 << 20;

    [Fact]
    public async Task Qemu_img_info_reports_the_export_as_a_raw_image_of_the_volume_size()
    {
        NbdClients.Require(NbdClients.QemuImg);
        var cancellationToken = TestContext.Current.CancellationToken;
        using var temporary = new TempDirectory("ironclad-interop");
        await using var scratch = await Scratch.StartAsync(temporary.Combine("data"), cancellationToken: cancellationToken);

        var result = (await NbdClients.QemuImgInfoAsync(Scratch.Endpoint(scratch), cancellationToken)).EnsureSuccess();
        using var info = System.Text.Json.JsonDocument.Parse(result.StandardOutput);
        Assert.Equal(Scratch.SizeBytes, info.RootElement.GetProperty("virtual-size").GetInt64());
        Assert.Equal("raw", info.RootElement.GetProperty("format").GetString());
    }

    [Fact]
    public async Task Qemu_img_convert_copies_a_raw_image_into_the_export_and_back_unchanged()
    {
        NbdClients.Require(NbdClients.QemuImg);
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        using var temporary = new TempDirectory("ironclad-interop");
        var dataDirectory = temporary.Combine("data");
        await using var scratch = await Scratch.StartAsync(dataDirectory, cancellationToken: cancellationToken);
        var endpoint = Scratch.Endpoint(scratch);
        var image = RandomImage.Create(temporary.Combine("source.raw"), ImageBytes, seed);

        (await NbdClients.QemuImgConvertToExportAsync(image.Path, endpoint, cancellationToken)).EnsureSuccess("file to export");
        var copy = temporary.Combine("copy.raw");
        (await NbdClients.QemuImgConvertFromExportAsync(endpoint, copy, cancellationToken)).EnsureSuccess("export to file");

        Assert.Equal(Scratch.SizeBytes, new FileInfo(copy).Length);
        Assert.Equal(image.Sha256PaddedTo(Scratch.SizeBytes), await RandomImage.Sha256OfFileAsync(copy, cancellationToken));
        await AtRest.AssertNoPlaintextAsync(Scratch.VolumesDirectory(dataDirectory), image.Samples(32, 32, seed), ImageBytes);
        ServerLog.AssertNoErrors(scratch.Process);
    }
}
