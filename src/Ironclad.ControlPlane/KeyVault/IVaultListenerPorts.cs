// How the HTTP pipeline tells a vault data-plane connection from a control-plane one: the host's vault
// listener records every loopback port it has bound for a vault. Invariant: the control-plane (ARM and
// identity) port is never in that set, so a request is routed by the port it arrived on, never by path.
namespace Ironclad.ControlPlane.KeyVault;

public interface IVaultListenerPorts
{
    /// <summary>True when <paramref name="localPort"/> is (or was, in this process) a vault's data-plane port.</summary>
    bool IsVaultPort(int localPort);
}
