// Checks a marketplace image file with the real tools, as an operator would: sfdisk reads the GPT
// (one partition), fsck.fat -n checks the FAT filesystem cut out of the partition, and mtype reads
// /IRONCLAD.TXT through the image at the partition's offset. Invariant: every check can fail — the
// tools' output is in the failure message, and a missing tool skips (or, in CI, fails) the test.
using System.Globalization;
using System.Text.Json;
using Ironclad.Testing.Tools;

namespace Ironclad.Compute.Tests.Marketplace;

internal static class ImageChecks
{
    /// <summary>Checks the image in <paramref name="imagePath"/> and returns the marker text.</summary>
    public static async Task<string> AssertImageAsync(string imagePath, string publisher, string offer, string sku, string version)
    {
        var sfdisk = ExternalTool.Require("sfdisk", "Debian package fdisk");
        var fsck = ExternalTool.Require("fsck.fat", "Debian package dosfstools");
        var mtype = ExternalTool.Require("mtype", "Debian package mtools");
        var cancellation = TestContext.Current.CancellationToken;

        var table = await sfdisk.RunAsync(["--json", imagePath], cancellationToken: cancellation);
        table.EnsureSuccess("sfdisk --json");
        // sfdisk complains on stderr about a bad primary or backup GPT header (CRC, location): there must be none.
        Assert.True(table.StandardError.Trim().Length == 0, $"sfdisk reported problems: {table.Describe()}");
        var json = JsonDocument.Parse(table.StandardOutput).RootElement.GetProperty("partitiontable");
        Assert.Equal("gpt", json.GetProperty("label").GetString());
        var partitions = json.GetProperty("partitions");
        Assert.Equal(1, partitions.GetArrayLength());
        var start = partitions[0].GetProperty("start").GetInt64();
        var size = partitions[0].GetProperty("size").GetInt64();
        Assert.Equal(2048, start);

        var verify = await sfdisk.RunAsync(["--verify", imagePath], cancellationToken: cancellation);
        verify.EnsureSuccess("sfdisk --verify");

        // fsck.fat reads a device or file from offset 0: cut the partition out (sparse copy).
        var partitionPath = imagePath + ".p1";
        try
        {
            await CopyRangeAsync(imagePath, partitionPath, start * 512, size * 512);
            var check = await fsck.RunAsync(["-n", "-v", partitionPath], cancellationToken: cancellation);
            check.EnsureSuccess("fsck.fat -n");
            // -v prints the boot sector: 16-bit FAT entries (FAT32 would say 32).
            Assert.True(check.StandardOutput.Contains("bytes per cluster", StringComparison.Ordinal) && !check.StandardOutput.Contains("FAT32", StringComparison.Ordinal),
                $"fsck.fat did not describe a FAT16 filesystem: {check.Describe()}");
        }
        finally
        {
            File.Delete(partitionPath);
        }

        var offset = (start * 512).ToString(CultureInfo.InvariantCulture);
        var read = await mtype.RunAsync(["-i", $"{imagePath}@@{offset}", "::/IRONCLAD.TXT"], cancellationToken: cancellation);
        read.EnsureSuccess("mtype ::/IRONCLAD.TXT");
        var text = read.StandardOutput;
        foreach (var expected in new[] { $"publisher: {publisher}", $"offer: {offer}", $"sku: {sku}", $"version: {version}" })
        {
            Assert.True(text.Contains(expected, StringComparison.Ordinal), $"IRONCLAD.TXT lacks '{expected}': {text}");
        }

        return text;
    }

    /// <summary>Copies [offset, offset+length) of a file into a new sparse file (zero blocks are skipped).</summary>
    private static async Task CopyRangeAsync(string from, string to, long offset, long length)
    {
        await using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        await using var target = new FileStream(to, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
        target.SetLength(length);
        source.Position = offset;
        var buffer = new byte[1 << 20];
        for (long done = 0; done < length;)
        {
            var n = await source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - done)), TestContext.Current.CancellationToken);
            Assert.True(n > 0, $"{from} ended at {offset + done}, before the partition's end at {offset + length}");
            if (buffer.AsSpan(0, n).ContainsAnyExcept((byte)0))
            {
                target.Position = done;
                await target.WriteAsync(buffer.AsMemory(0, n), TestContext.Current.CancellationToken);
            }

            done += n;
        }
    }
}
