// The real server the scale-set tests drive (the disk fixture's server, vault ports from the scale-set
// range 26300-26349, one sub-range per fixture class), plus what the tests repeat: a customer-key set,
// a custom image from a snapshot of an uploaded disk, a scale-set body, and reads of instances/disks.
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.Disks;
using Ironclad.Testing.Processes;

namespace Ironclad.Compute.Tests.ScaleSets;

public abstract class ScaleSetServer : DiskServer
{
    public const string ComputeApi = "api-version=2026-04-01";

    /// <summary>A group with a vault, a key, a granted customer-key set, and an image made from a snapshot of an uploaded disk.</summary>
    public async Task<(string SetId, string ImageId, string VaultId, Uri VaultUri, string PrincipalId)> PrepareAsync(string group, int seed)
    {
        await CreateGroupAsync(group);
        var (vaultId, vaultUri) = await CreateVaultAsync(group, $"kv-{group}"[..Math.Min(24, 3 + group.Length)]);
        var key = await CreateKeyAsync(vaultUri, "k1");
        var (setId, principal) = await CreateSetAsync(group, "des1", vaultId, key);
        var source = await UploadDiskAsync(group, "golden", Writes(seed), setId);
        var snapshot = await ArmOkAsync(HttpMethod.Put, $"{ComputePath(group, "snapshots", "golden-snap")}?{DiskApi}",
            CopyBody(source.GetProperty("id").GetString()!), expected: 201);
        var image = await ArmOkAsync(HttpMethod.Put, $"{ComputePath(group, "images", "golden-image")}?{ImageApi}", new JsonObject
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
                },
            },
        }, expected: 201);
        return (setId, image.GetProperty("id").GetString()!, vaultId, vaultUri, principal);
    }

    /// <summary>Creates an RSA key that expires at <paramref name="expires"/> (wrapKey is refused from then on); returns its kid.</summary>
    public async Task<string> CreateKeyAsync(Uri vaultUri, string name, DateTimeOffset expires)
    {
        var token = await TokenAsync(VaultScope);
        using var http = CaTrust.CreateHttpClient(Server.Endpoints.CaCertificate, vaultUri);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/keys/{name}/create?api-version=7.4")
        {
            Content = new StringContent(new JsonObject
            {
                ["kty"] = "RSA",
                ["key_size"] = 2048,
                ["attributes"] = new JsonObject { ["exp"] = expires.ToUnixTimeSeconds() },
            }.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, $"key create answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("key").GetProperty("kid").GetString()!;
    }

    /// <summary>The body the JS SDK sends for a scale set (arm-compute 25 virtualMachineScaleSetSerializer shape).</summary>
    public static JsonObject ScaleSetBody(int capacity, string imageId, string? osSetId, string? dataSetId, int dataDiskGb = 1)
    {
        var osManaged = new JsonObject { ["storageAccountType"] = "Premium_LRS" };
        if (osSetId is not null)
        {
            osManaged["diskEncryptionSet"] = new JsonObject { ["id"] = osSetId };
        }

        var dataManaged = new JsonObject { ["storageAccountType"] = "Premium_LRS" };
        if (dataSetId is not null)
        {
            dataManaged["diskEncryptionSet"] = new JsonObject { ["id"] = dataSetId };
        }

        return new JsonObject
        {
            ["location"] = Location,
            ["sku"] = new JsonObject { ["name"] = "Standard_D2s_v3", ["tier"] = "Standard", ["capacity"] = capacity },
            ["properties"] = new JsonObject
            {
                ["upgradePolicy"] = new JsonObject { ["mode"] = "Manual" },
                ["orchestrationMode"] = "Uniform",
                ["virtualMachineProfile"] = new JsonObject
                {
                    ["storageProfile"] = new JsonObject
                    {
                        ["imageReference"] = new JsonObject { ["id"] = imageId },
                        ["osDisk"] = new JsonObject { ["createOption"] = "FromImage", ["caching"] = "ReadWrite", ["managedDisk"] = osManaged },
                        ["dataDisks"] = new JsonArray(new JsonObject { ["lun"] = 0, ["createOption"] = "Empty", ["diskSizeGB"] = dataDiskGb, ["managedDisk"] = dataManaged }),
                    },
                    ["osProfile"] = new JsonObject { ["computerNamePrefix"] = "web", ["adminUsername"] = "azureuser", ["adminPassword"] = "Never-Stored-4711!" },
                    ["networkProfile"] = new JsonObject
                    {
                        ["networkInterfaceConfigurations"] = new JsonArray(new JsonObject
                        {
                            ["name"] = "nic",
                            ["properties"] = new JsonObject { ["primary"] = true, ["ipConfigurations"] = new JsonArray(new JsonObject { ["name"] = "ip" }) },
                        }),
                    },
                },
            },
        };
    }

    /// <summary>GET …/virtualMachineScaleSets/{name}/virtualMachines (every page).</summary>
    public async Task<List<JsonElement>> InstancesAsync(string setPath)
    {
        var result = new List<JsonElement>();
        string? next = $"{setPath}/virtualMachines?{ComputeApi}";
        while (next is not null)
        {
            var page = await ArmOkAsync(HttpMethod.Get, next, expected: 200);
            result.AddRange(page.GetProperty("value").EnumerateArray());
            next = page.TryGetProperty("nextLink", out var link) && link.GetString() is { } url ? new Uri(url).PathAndQuery : null;
        }

        return result;
    }

    /// <summary>The disk ids an instance's storageProfile names (OS first).</summary>
    public static List<string> DiskIdsOf(JsonElement instance)
    {
        var storage = instance.GetProperty("properties").GetProperty("storageProfile");
        var ids = new List<string> { storage.GetProperty("osDisk").GetProperty("managedDisk").GetProperty("id").GetString()! };
        if (storage.TryGetProperty("dataDisks", out var dataDisks))
        {
            ids.AddRange(dataDisks.EnumerateArray().Select(d => d.GetProperty("managedDisk").GetProperty("id").GetString()!));
        }

        return ids;
    }

    /// <summary>The names of the disks in a group (disks only, all pages).</summary>
    public async Task<List<string>> DiskNamesAsync(string group)
    {
        var page = await ArmOkAsync(HttpMethod.Get, $"{GroupPath(group)}/providers/Microsoft.Compute/disks?{DiskApi}", expected: 200);
        return [.. page.GetProperty("value").EnumerateArray().Select(d => d.GetProperty("name").GetString()!)];
    }

    /// <summary>The PowerState/… code of an instance view.</summary>
    public static string PowerState(JsonElement view) =>
        view.GetProperty("statuses").EnumerateArray().Select(s => s.GetProperty("code").GetString()!).Single(c => c.StartsWith("PowerState/", StringComparison.Ordinal));
}
