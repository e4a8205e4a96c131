// Events are published after the change is committed: a subscriber that re-checks the vault from
// inside its handler (as the compute provider's revocation does) already sees the new state.
using Ironclad.KeyVault.Events;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Tests;

public sealed class KeyEventsTests : IDisposable
{
    private readonly KeysHarness _h = new();
    private readonly VaultRecord _vault = KeysHarness.Vault();

    [Fact]
    public void A_subscriber_re_checking_from_its_handler_sees_the_committed_change()
    {
        var key = _h.ImportPooled(_vault, "k");
        var wrapped = _h.Service.WrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, new byte[32]).Value;
        _h.Service.UnwrapKey(_vault, "k", null, KeyAlgorithms.RsaOaep256, wrapped);
        var seen = new List<string>();
        _h.Events.Clear();
        _h.Subscribe(e =>
        {
            try
            {
                _h.Service.UnwrapKey(_vault, "k", key.Version, KeyAlgorithms.RsaOaep256, wrapped);
                seen.Add($"{e.Kind}:ok");
            }
            catch (KeyVaultException x)
            {
                seen.Add($"{e.Kind}:{x.Status}{x.InnerCode}");
            }
        });

        _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(false, null, null, null, null));
        _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(true, null, null, [KeyOps.WrapKey], null));
        _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(null, null, null, KeyOps.AllRsa, null));
        _h.Service.Delete(_vault, "k");
        _h.Service.Recover(_vault, "k");
        _h.Service.Delete(_vault, "k");
        _h.Service.Purge(_vault, "k");

        Assert.Equal(
            ["Disabled:403KeyDisabled", "Enabled:403KeyOperationForbidden", "Updated:403KeyOperationForbidden", "Updated:ok", "Deleted:404", "Recovered:ok", "Deleted:404", "Purged:404"],
            seen);
        Assert.Equal(
            [KeyEventKind.Disabled, KeyEventKind.Enabled, KeyEventKind.Updated, KeyEventKind.Updated, KeyEventKind.Deleted, KeyEventKind.Recovered, KeyEventKind.Deleted, KeyEventKind.Purged],
            _h.Events.Select(e => e.Kind));
        Assert.All(_h.Events, e => Assert.Equal(("v1", "k"), (e.Vault, e.KeyName)));
    }

    [Fact]
    public void Refused_requests_publish_nothing()
    {
        _h.ImportPooled(_vault, "k");
        _h.Events.Clear();
        Assert.Throws<KeyVaultException>(() => _h.Service.Create(_vault, "k", KeysHarness.Rsa(1024)));
        Assert.Throws<KeyVaultException>(() => _h.Service.Update(_vault, "k", null, new UpdateKeyRequest(false, null, null, ["nope"], null)));
        Assert.Throws<KeyVaultException>(() => _h.Service.Purge(_vault, "k"));
        Assert.Throws<KeyVaultException>(() => _h.Service.Recover(_vault, "k"));
        Assert.Throws<KeyVaultException>(() => _h.Service.Restore(_vault, [1, 2, 3]));
        Assert.Empty(_h.Events);
        Assert.True(_h.Service.Get(_vault, "k", null).Attributes.Enabled);
    }

    public void Dispose() => _h.Dispose();
}
