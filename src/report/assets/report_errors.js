window.concordRenderErrors=[];
window.concordFail=function(msg){
  window.concordRenderErrors.push(String(msg));
  document.body.dataset.renderErrors=window.concordRenderErrors.join(' | ');
  document.body.dataset.renderStatus='error';
  var s=document.getElementById('render-status');
  if(s){s.textContent='Some charts failed to render: '+document.body.dataset.renderErrors;s.style.color='#8a1c1c';}
};
window.onerror=function(message,source,line,column){
  window.concordFail(String(message)+' (line '+line+':'+column+')');
};
