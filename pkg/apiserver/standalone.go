package apiserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// StandaloneUser is the identity of the standalone mode's bearer token.
const StandaloneUser = "meshapi-admin"

// standaloneTokenFile returns the path of the standalone bearer token.
func (o *Options) standaloneTokenFile() string {
	return filepath.Join(o.DataDir, "standalone-token")
}

// standaloneToken reads the standalone token, generating it (mode 0600) on
// first use so that a restarted server keeps its kubeconfig valid.
func (o *Options) standaloneToken() (string, error) {
	path := o.standaloneTokenFile()
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading the standalone token %q: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generating the standalone token: %w", err)
	}
	token := hex.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating %q: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the standalone token %q: %w", path, err)
	}
	return token, nil
}

// applyStandaloneAuth authenticates the standalone token as a member of
// system:masters and authorizes only that group.
func (o *Options) applyStandaloneAuth(c *genericapiserver.RecommendedConfig) error {
	token, err := o.standaloneToken()
	if err != nil {
		return err
	}
	tokens := tokenfile.New(map[string]*user.DefaultInfo{
		token: {Name: StandaloneUser, Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}},
	})
	c.Authentication.Authenticator = bearertoken.New(tokens)
	c.Authorization.Authorizer = authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)
	return nil
}

// writeStandaloneKubeconfig writes a kubeconfig (mode 0600) that reaches
// the server with the standalone token and trusts its serving certificate.
func (o *Options) writeStandaloneKubeconfig() error {
	token, err := o.standaloneToken()
	if err != nil {
		return err
	}
	ss := o.Recommended.SecureServing
	ca, err := os.ReadFile(ss.ServerCert.CertKey.CertFile)
	if err != nil {
		return fmt.Errorf("reading the serving certificate for the kubeconfig: %w", err)
	}
	host := "127.0.0.1"
	if ip := ss.BindAddress; ip != nil && !ip.IsUnspecified() {
		host = ip.String()
	}
	port := ss.BindPort
	if ss.Listener != nil {
		if _, p, err := net.SplitHostPort(ss.Listener.Addr().String()); err == nil {
			port, _ = strconv.Atoi(p)
		}
	}
	const name = "meshapi"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + net.JoinHostPort(host, strconv.Itoa(port)), CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	if err := os.MkdirAll(filepath.Dir(o.KubeconfigOut), 0o700); err != nil {
		return fmt.Errorf("creating %q: %w", filepath.Dir(o.KubeconfigOut), err)
	}
	if err := clientcmd.WriteToFile(*cfg, o.KubeconfigOut); err != nil {
		return fmt.Errorf("writing the kubeconfig %q: %w", o.KubeconfigOut, err)
	}
	if err := os.Chmod(o.KubeconfigOut, 0o600); err != nil {
		return fmt.Errorf("restricting %q to its owner: %w", o.KubeconfigOut, err)
	}
	fmt.Fprintf(os.Stderr, "meshapi-apiserver: standalone mode; try: kubectl --kubeconfig %s get remoteclusterconfigurations\n", o.KubeconfigOut)
	return nil
}
