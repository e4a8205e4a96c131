// The real server the VM resource tests drive (the disk tests' fixture, vault ports from the VM range
// 26100-26149) plus what VM tests repeat: a customer-key set (vault, key, granted set), a custom image
// made from a snapshot of an uploaded disk, VM bodies, key enable/disable through the vault's data plane.
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;
using Ironclad.Testing.Processes;

namespace Ironclad.Compute.Tests.VirtualMachines;

public abstract class VmServer : DiskServer
{
    public const string VmApi = "api-version=2024-07-01";

    public string VmPath(string group, string name) => ComputePath(group, "virtualMachines", name);

    /// <summary>A vault, a key and a set whose identity may use it; returns the set id and the key's kid.</summary>
    public async Task<(string SetId, string KeyUrl, string VaultId)> CreateCustomerKeySetAsync(string group, string suffix, string location = Location)
    {
        var (vaultId, vaultUri) = await CreateVaultAsync(group, $"kv-{suffix}", location);
        var key = await CreateKeyAsync(vaultUri, $"k-{suffix}");
        var (setId, _) = await CreateSetAsync(group, $"des-{suffix}", vaultId, key, location: location);
        return (setId, key, vaultId);
    }

    /// <summary>An image whose OS disk is a snapshot of an uploaded disk (the writes) and whose lun 1 data disk is a snapshot of an empty disk.</summary>
    public async Task<string> CreateCustomImageAsync(string group, string name, IReadOnlyList<(long Offset, byte[] Data)> writes, string? setId)
    {
        var source = await UploadDiskAsync(group, $"{name}-src", writes, setId);
        var sourceId = source.GetProperty("id").GetString()!;
        var snapshot = await ArmOkAsync(HttpMethod.Put, $"{ComputePath(group, "snapshots", $"{name}-snap")}?{DiskApi}", CopyBody(sourceId), expected: 201);
        var dataSource = await ArmOkAsync(HttpMethod.Put, $"{ComputePath(group, "disks", $"{name}-data")}?{DiskApi}", EmptyDiskBody(1, setId), expected: 201);
        var image = await ArmOkAsync(HttpMethod.Put, $"{ComputePath(group, "images", name)}?{ImageApi}", new JsonObject
        {
            ["location"] = Location,
            ["properties"] = new JsonObject
            {
                ["storageProfile"] = new JsonObject
                {
                    ["osDisk"] = new JsonObject
                    {
                        ["osType"] = "Linux",
                        ["osState"] = "Generalized",
                        ["snapshot"] = new JsonObject { ["id"] = snapshot.GetProperty("id").GetString() },
                    },
                    ["dataDisks"] = new JsonArray(new JsonObject { ["lun"] = 1, ["managedDisk"] = new JsonObject { ["id"] = dataSource.GetProperty("id").GetString() } }),
                },
            },
        }, expected: 201);
        return image.GetProperty("id").GetString()!;
    }

    /// <summary>A VM body: OS disk from <paramref name="imageId"/> (with the set), and the given data disks.</summary>
    public static JsonObject VmBody(string imageId, string? setId, params JsonObject[] dataDisks)
    {
        var managed = new JsonObject { ["storageAccountType"] = "Premium_LRS" };
        if (setId is not null)
        {
            managed["diskEncryptionSet"] = new JsonObject { ["id"] = setId };
        }

        return new JsonObject
        {
            ["location"] = Location,
            ["tags"] = new JsonObject { ["team"] = "ironclad" },
            ["properties"] = new JsonObject
            {
                ["hardwareProfile"] = new JsonObject { ["vmSize"] = "Standard_D2s_v3" },
                ["storageProfile"] = new JsonObject
                {
                    ["imageReference"] = new JsonObject { ["id"] = imageId },
                    ["osDisk"] = new JsonObject { ["createOption"] = "FromImage", ["caching"] = "ReadWrite", ["managedDisk"] = managed },
                    ["dataDisks"] = new JsonArray([.. dataDisks]),
                },
                ["osProfile"] = new JsonObject { ["computerName"] = "vm1", ["adminUsername"] = "azureuser", ["adminPassword"] = "Never-Stored-9f3k!" },
                ["networkProfile"] = new JsonObject { ["networkInterfaces"] = new JsonArray() },
            },
        };
    }

    public static JsonObject EmptyDataDisk(int lun, int sizeGb, string? setId, string? deleteOption = null)
    {
        var managed = new JsonObject { ["storageAccountType"] = "Premium_LRS" };
        if (setId is not null)
        {
            managed["diskEncryptionSet"] = new JsonObject { ["id"] = setId };
        }

        var disk = new JsonObject { ["lun"] = lun, ["createOption"] = "Empty", ["diskSizeGB"] = sizeGb, ["managedDisk"] = managed };
        if (deleteOption is not null)
        {
            disk["deleteOption"] = deleteOption;
        }

        return disk;
    }

    public static JsonObject AttachDataDisk(int lun, string diskId, string? deleteOption = null)
    {
        var disk = new JsonObject { ["lun"] = lun, ["createOption"] = "Attach", ["managedDisk"] = new JsonObject { ["id"] = diskId } };
        if (deleteOption is not null)
        {
            disk["deleteOption"] = deleteOption;
        }

        return disk;
    }

    /// <summary>The PowerState/... code of the instance view.</summary>
    public async Task<(string Power, JsonElement View)> PowerStateAsync(string vmPath)
    {
        var view = await ArmOkAsync(HttpMethod.Get, $"{vmPath}/instanceView?{VmApi}", expected: 200);
        var power = view.GetProperty("statuses").EnumerateArray().Select(s => s.GetProperty("code").GetString()!).Single(c => c.StartsWith("PowerState/", StringComparison.Ordinal));
        return (power, view);
    }

    /// <summary>Enables or disables a key version through the vault's data plane (PATCH attributes.enabled).</summary>
    public async Task SetKeyEnabledAsync(string kid, bool enabled)
    {
        var token = await TokenAsync(VaultScope);
        var uri = new Uri(kid);
        using var http = CaTrust.CreateHttpClient(Server.Endpoints.CaCertificate, new Uri(uri.GetLeftPart(UriPartial.Authority)));
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"{uri.AbsolutePath}?api-version=7.4")
        {
            Content = new StringContent(new JsonObject { ["attributes"] = new JsonObject { ["enabled"] = enabled } }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"key update answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)}");
    }

    /// <summary>Names of the disks in a group.</summary>
    public async Task<IReadOnlyList<string>> DiskNamesAsync(string group)
    {
        var list = await ArmOkAsync(HttpMethod.Get, $"{GroupPath(group)}/providers/Microsoft.Compute/disks?{DiskApi}", expected: 200);
        return [.. list.GetProperty("value").EnumerateArray().Select(d => d.GetProperty("name").GetString()!)];
    }

    public static string DiskId(JsonElement disk) => disk.GetProperty("managedDisk").GetProperty("id").GetString()!;

    public static JsonElement StorageProfile(JsonElement vm) => vm.GetProperty("properties").GetProperty("storageProfile");

    public static JsonElement DataDisk(JsonElement vm, int lun) =>
        StorageProfile(vm).GetProperty("dataDisks").EnumerateArray().Single(d => d.GetProperty("lun").GetInt32() == lun);

    public static string ErrorCode(JsonElement? body) => body!.Value.GetProperty("error").GetProperty("code").GetString()!;

    public static string ErrorMessage(JsonElement? body) => body!.Value.GetProperty("error").GetProperty("message").GetString()!;
}
